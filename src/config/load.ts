import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { defaultConfig, type Config, type RuntimeHandlerConfig } from './config.js';
import { checkLayer, ConfigError, type ConfigLayer } from './schema.js';

export interface ConfigSources {
  /** The main file; `required` when the user named it (a missing default file is fine). */
  file: { path: string; required: boolean };
  /** Drop-in directory: every `*.toml` and `*.conf` in it, in lexical order, over the main file. */
  dropInDir: { path: string; required: boolean };
  /** Values from command-line flags, already shaped like the file; applied last. */
  flags: ConfigLayer;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge where tables merge key by key and arrays and scalars replace. */
export function mergeLayers(base: ConfigLayer, over: ConfigLayer): ConfigLayer {
  const out: ConfigLayer = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeLayers(current, value) : value;
  }
  return out;
}

async function readLayer(path: string, required: boolean): Promise<ConfigLayer | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError('', path, `cannot read config file: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseToml(text);
  } catch (err) {
    throw new ConfigError('', path, `invalid TOML: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  return checkLayer(parsed, path);
}

async function dropInFiles(dir: string, required: boolean): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names
      .filter((n) => n.endsWith('.toml') || n.endsWith('.conf'))
      .sort()
      .map((n) => join(dir, n));
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError('', dir, `cannot read config directory: ${(err as Error).message}`);
  }
}

/** A runtime handler declared only in a file gets the defaults every handler shares. */
function completeRuntimes(layer: ConfigLayer, runroot: string): void {
  const runtimes = layer['runtimes'];
  if (!isPlainObject(runtimes)) return;
  for (const [name, entry] of Object.entries(runtimes)) {
    if (!isPlainObject(entry)) continue;
    const defaults: Omit<RuntimeHandlerConfig, 'runtime_path'> = {
      runtime_root: join(runroot, name),
      runtime_type: 'oci',
      runtime_args: [],
      monitor_path: '/usr/bin/conmon',
      cgroup_v1_view: false,
    };
    runtimes[name] = { ...defaults, ...entry };
    const merged = runtimes[name] as Record<string, unknown>;
    if (merged['runtime_root'] === '') merged['runtime_root'] = join(runroot, name);
    if (typeof entry['runtime_path'] !== 'string') {
      throw new ConfigError(`runtimes.${name}.runtime_path`, 'the merged configuration', 'missing required key');
    }
  }
}

function checkWhole(config: Config): void {
  if (config.runtimes[config.runtime.default_runtime] === undefined) {
    throw new ConfigError(
      'runtime.default_runtime',
      'the merged configuration',
      `no [runtimes.${config.runtime.default_runtime}] table for the default runtime`,
    );
  }
}

/** Builds the effective configuration: defaults ← file ← drop-ins ← flags. */
export async function loadConfig(sources: ConfigSources): Promise<Config> {
  let merged: ConfigLayer = defaultConfig() as unknown as ConfigLayer;
  const main = await readLayer(sources.file.path, sources.file.required);
  if (main !== undefined) merged = mergeLayers(merged, main);
  for (const path of await dropInFiles(sources.dropInDir.path, sources.dropInDir.required)) {
    const layer = await readLayer(path, true);
    if (layer !== undefined) merged = mergeLayers(merged, layer);
  }
  merged = mergeLayers(merged, checkLayer(sources.flags, 'command-line flags'));
  completeRuntimes(merged, typeof merged['runroot'] === 'string' ? merged['runroot'] : '/run/cri-ts');
  const config = merged as unknown as Config;
  checkWhole(config);
  return config;
}
