import { isAbsolute } from 'node:path';
import { logLevels } from '../log/logger.js';

/** A config problem names the key and where the value came from, so a typo is found in one look. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly source: string,
    detail: string,
  ) {
    super(key === '' ? `${source}: ${detail}` : `${source}: key "${key}": ${detail}`);
    this.name = 'ConfigError';
  }
}

type Leaf =
  | { type: 'string'; check?: (value: string) => string | undefined }
  | { type: 'int'; min: number; max: number }
  | { type: 'bool' }
  | { type: 'strings'; check?: (value: string) => string | undefined }
  | { type: 'enum'; values: readonly string[] };

interface Table {
  type: 'table';
  fields: Record<string, Field>;
}

/** A table of named entries sharing one shape, such as `[runtimes.NAME]`. */
interface NamedTables {
  type: 'named';
  entry: Table;
}

type Field = Leaf | Table | NamedTables;

const absolutePath = (v: string): string | undefined => (isAbsolute(v) ? undefined : 'must be an absolute path');
const nonEmpty = (v: string): string | undefined => (v.trim() === '' ? 'must not be empty' : undefined);
const port = { type: 'int', min: 0, max: 65535 } as const;
const unixListen = (v: string): string | undefined =>
  /^unix:\/\/\//.test(v) || isAbsolute(v) ? undefined : 'must be unix:///absolute/path';

const runtimeHandler: Table = {
  type: 'table',
  fields: {
    runtime_path: { type: 'string', check: absolutePath },
    runtime_root: { type: 'string', check: (v) => (v === '' ? undefined : absolutePath(v)) },
    runtime_type: { type: 'enum', values: ['oci'] },
    runtime_args: { type: 'strings' },
    monitor_path: { type: 'string', check: absolutePath },
    cgroup_v1_view: { type: 'bool' },
  },
};

/** The shape of cri-ts.toml; mirrors `Config` in config.ts. */
export const configSchema: Table = {
  type: 'table',
  fields: {
    root: { type: 'string', check: absolutePath },
    runroot: { type: 'string', check: absolutePath },
    log_level: { type: 'enum', values: logLevels },
    api: {
      type: 'table',
      fields: {
        listen: { type: 'string', check: unixListen },
        stream_address: { type: 'string', check: nonEmpty },
        stream_port: port,
        grpc_max_recv_msg_size: { type: 'int', min: 1024, max: 2 ** 31 - 1 },
        grpc_max_send_msg_size: { type: 'int', min: 1024, max: 2 ** 31 - 1 },
        shutdown_grace_seconds: { type: 'int', min: 0, max: 3600 },
      },
    },
    runtime: {
      type: 'table',
      fields: {
        default_runtime: { type: 'string', check: nonEmpty },
        cgroup_manager: { type: 'enum', values: ['cgroupfs', 'systemd'] },
        restrict_oom_score_adj: { type: 'bool' },
        seccomp_profile: { type: 'string', check: absolutePath },
        pids_limit: { type: 'int', min: 0, max: 4194304 },
      },
    },
    runtimes: { type: 'named', entry: runtimeHandler },
    image: {
      type: 'table',
      fields: {
        pause_image: { type: 'string', check: nonEmpty },
        registries_conf: { type: 'string', check: absolutePath },
        global_auth_file: { type: 'string', check: absolutePath },
        max_concurrent_downloads: { type: 'int', min: 1, max: 64 },
      },
    },
    network: {
      type: 'table',
      fields: {
        cni_config_dir: { type: 'string', check: absolutePath },
        cni_plugin_dirs: { type: 'strings', check: absolutePath },
      },
    },
    metrics: {
      type: 'table',
      fields: {
        enable_metrics: { type: 'bool' },
        metrics_host: { type: 'string', check: nonEmpty },
        metrics_port: port,
      },
    },
  },
};

export type ConfigLayer = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : String(v);
}

function checkLeaf(leaf: Leaf, value: unknown, key: string, source: string): unknown {
  const bad = (expected: string): never => {
    throw new ConfigError(key, source, `invalid value ${describe(value)}: expected ${expected}`);
  };
  const custom = (problem: string | undefined): void => {
    if (problem !== undefined) throw new ConfigError(key, source, `invalid value ${describe(value)}: ${problem}`);
  };
  switch (leaf.type) {
    case 'string':
      if (typeof value !== 'string') return bad('a string');
      custom(leaf.check?.(value));
      return value;
    case 'int': {
      // smol-toml yields bigint only for integers beyond 2^53, which no field accepts.
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < leaf.min || n > leaf.max) {
        return bad(`an integer from ${String(leaf.min)} to ${String(leaf.max)}`);
      }
      return n;
    }
    case 'bool':
      if (typeof value !== 'boolean') return bad('true or false');
      return value;
    case 'enum':
      if (typeof value !== 'string' || !leaf.values.includes(value))
        return bad(`one of ${leaf.values.join(', ')}`);
      return value;
    case 'strings':
      if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) return bad('an array of strings');
      for (const s of value) custom(leaf.check?.(s));
      return [...value];
  }
}

function checkTable(table: Table, value: unknown, prefix: string, source: string): ConfigLayer {
  if (!isPlainObject(value))
    throw new ConfigError(prefix, source, `invalid value ${describe(value)}: expected a table`);
  const out: ConfigLayer = {};
  for (const [name, child] of Object.entries(value)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    const field = table.fields[name];
    if (field === undefined) throw new ConfigError(key, source, 'unknown key');
    out[name] = checkField(field, child, key, source);
  }
  return out;
}

function checkField(field: Field, value: unknown, key: string, source: string): unknown {
  switch (field.type) {
    case 'table':
      return checkTable(field, value, key, source);
    case 'named': {
      if (!isPlainObject(value))
        throw new ConfigError(key, source, `invalid value ${describe(value)}: expected a table`);
      const out: ConfigLayer = {};
      for (const [name, entry] of Object.entries(value)) {
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
          throw new ConfigError(`${key}.${name}`, source, 'invalid name, expected a DNS label');
        }
        out[name] = checkTable(field.entry, entry, `${key}.${name}`, source);
      }
      return out;
    }
    default:
      return checkLeaf(field, value, key, source);
  }
}

/** Validates one layer (a parsed file, or the flags) against the schema: unknown keys and bad values throw. */
export function checkLayer(value: unknown, source: string): ConfigLayer {
  return checkTable(configSchema, value, '', source);
}
