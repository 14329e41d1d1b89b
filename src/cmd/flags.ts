import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { defaultConfigDir, defaultConfigFile } from '../config/config.js';
import type { ConfigLayer } from '../config/schema.js';

/** Flags shared by `serve` and `config`, named like cri-o's where cri-o has one. */
const configFlags = {
  config: { type: 'string', short: 'c' },
  'config-dir': { type: 'string', short: 'd' },
  listen: { type: 'string' },
  root: { type: 'string', short: 'r' },
  runroot: { type: 'string' },
  'log-level': { type: 'string', short: 'l' },
  'pause-image': { type: 'string' },
  'cni-config-dir': { type: 'string' },
  'cni-plugin-dir': { type: 'string', multiple: true },
  'registries-conf': { type: 'string' },
  'default-runtime': { type: 'string' },
  'cgroup-manager': { type: 'string' },
  'enable-metrics': { type: 'boolean' },
  'metrics-host': { type: 'string' },
  'metrics-port': { type: 'string' },
  'stream-address': { type: 'string' },
  'stream-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export const configFlagsHelp = `Options:
  -c, --config FILE             config file (default ${defaultConfigFile}; a missing default is fine)
  -d, --config-dir DIR          drop-in directory, *.toml and *.conf in lexical order (default ${defaultConfigDir})
      --listen URL              CRI socket, unix:///path (default unix:///run/cri-ts/cri-ts.sock)
  -r, --root DIR                persistent state (default /var/lib/cri-ts)
      --runroot DIR             volatile state (default /run/cri-ts)
  -l, --log-level LEVEL         fatal, error, warn, info, debug or trace (default info)
      --pause-image REF         image of the pod infra container
      --cni-config-dir DIR      CNI network configurations (default /etc/cni/net.d)
      --cni-plugin-dir DIR      CNI plugin binaries; repeat for several (default /opt/cni/bin, /usr/lib/cni)
      --registries-conf FILE    containers-registries.conf v2 file (default /etc/containers/registries.conf)
      --default-runtime NAME    runtime handler used when a pod names none (default runc)
      --cgroup-manager NAME     cgroupfs or systemd (default cgroupfs)
      --[no-]enable-metrics     serve Prometheus metrics (default on)
      --metrics-host HOST       metrics listen address (default 127.0.0.1)
      --metrics-port PORT       metrics listen port (default 9537)
      --stream-address HOST     exec/attach/port-forward server address (default 127.0.0.1)
      --stream-port PORT        streaming server port, 0 for a free one (default 0)
  -h, --help                    show this help`;

export interface ParsedConfigFlags {
  help: boolean;
  configFile: { path: string; required: boolean };
  configDir: { path: string; required: boolean };
  layer: ConfigLayer;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A numeric flag keeps its text when it is not a number, so the schema's error names the bad value. */
function numeric(text: string): number | string {
  return /^\d+$/.test(text) ? Number(text) : text;
}

export function parseConfigFlags(args: string[]): ParsedConfigFlags {
  let parsed;
  try {
    parsed = parseArgs({ args, options: configFlags, allowPositionals: false, allowNegative: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  const layer: ConfigLayer = {};
  const table = (name: string): ConfigLayer => {
    const existing = layer[name];
    if (existing !== undefined) return existing as ConfigLayer;
    const created: ConfigLayer = {};
    layer[name] = created;
    return created;
  };
  if (v.root !== undefined) layer['root'] = v.root;
  if (v.runroot !== undefined) layer['runroot'] = v.runroot;
  if (v['log-level'] !== undefined) layer['log_level'] = v['log-level'];
  if (v.listen !== undefined) table('api')['listen'] = v.listen;
  if (v['stream-address'] !== undefined) table('api')['stream_address'] = v['stream-address'];
  if (v['stream-port'] !== undefined) table('api')['stream_port'] = numeric(v['stream-port']);
  if (v['default-runtime'] !== undefined) table('runtime')['default_runtime'] = v['default-runtime'];
  if (v['cgroup-manager'] !== undefined) table('runtime')['cgroup_manager'] = v['cgroup-manager'];
  if (v['pause-image'] !== undefined) table('image')['pause_image'] = v['pause-image'];
  if (v['registries-conf'] !== undefined) table('image')['registries_conf'] = v['registries-conf'];
  if (v['cni-config-dir'] !== undefined) table('network')['cni_config_dir'] = v['cni-config-dir'];
  if (v['cni-plugin-dir'] !== undefined) table('network')['cni_plugin_dirs'] = v['cni-plugin-dir'];
  if (v['enable-metrics'] !== undefined) table('metrics')['enable_metrics'] = v['enable-metrics'];
  if (v['metrics-host'] !== undefined) table('metrics')['metrics_host'] = v['metrics-host'];
  if (v['metrics-port'] !== undefined) table('metrics')['metrics_port'] = numeric(v['metrics-port']);
  return {
    help: v.help === true,
    configFile: { path: v.config ?? defaultConfigFile, required: v.config !== undefined },
    configDir: { path: v['config-dir'] ?? defaultConfigDir, required: v['config-dir'] !== undefined },
    layer,
  };
}
