import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the CNI conf dir offers: the network cri-ts would use, or why there is none. */
export type CniConfigState =
  | { ready: true; file: string; network: string; plugins: string[] }
  | { ready: false; reason: string; message: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The plugin types of a conflist or a single-plugin .conf, or undefined when the file is not usable. */
function pluginTypes(doc: unknown, isList: boolean): { name: string; plugins: string[] } | undefined {
  if (!isRecord(doc) || typeof doc['name'] !== 'string' || doc['name'] === '') return undefined;
  if (!isList) return typeof doc['type'] === 'string' ? { name: doc['name'], plugins: [doc['type']] } : undefined;
  const plugins = doc['plugins'];
  if (!Array.isArray(plugins) || plugins.length === 0) return undefined;
  const types = plugins.map((p) => (isRecord(p) && typeof p['type'] === 'string' ? p['type'] : undefined));
  return types.every((t) => t !== undefined) ? { name: doc['name'], plugins: types } : undefined;
}

/**
 * Finds the network the pods would join: the lexically first valid `.conflist`, `.conf` or `.json` file, as the
 * CNI libraries that kubelet-era runtimes use do. Invalid files are passed over, not fatal.
 */
export async function findCniConfig(confDir: string): Promise<CniConfigState> {
  let names: string[];
  try {
    names = (await readdir(confDir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return {
      ready: false,
      reason: 'NetworkPluginNotReady',
      message: `cannot read CNI config dir ${confDir}: ${code}`,
    };
  }
  for (const name of names) {
    const isList = name.endsWith('.conflist');
    if (!isList && !name.endsWith('.conf') && !name.endsWith('.json')) continue;
    const file = join(confDir, name);
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    const found = pluginTypes(doc, isList);
    if (found !== undefined) return { ready: true, file, network: found.name, plugins: found.plugins };
  }
  return {
    ready: false,
    reason: 'NetworkPluginNotReady',
    message: `no valid CNI network config found in ${confDir}`,
  };
}
