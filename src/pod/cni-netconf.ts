import { readFile } from 'node:fs/promises';
import { failedPrecondition } from '../errors/errors.js';

/**
 * A network configuration as the runtime executes it (SPEC.md section 1): the list's name and version plus the
 * plugin configuration objects, kept whole because plugins read fields the runtime knows nothing of.
 */
export interface NetworkList {
  name: string;
  cniVersion: string;
  plugins: Record<string, unknown>[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Versions as numbers, so "0.10.0" sorts after "0.4.0"; unparsable parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

// The newest spec this runtime speaks; a config offering more (cniVersions) is run at the highest we know.
const newestKnown = '1.1.0';

/**
 * The version to run a network at: the highest of `cniVersion` and `cniVersions` (spec 1.1) that we know. An
 * absent version stays "" and plugins treat it as the oldest, as libcni does.
 */
export function selectVersion(doc: Record<string, unknown>): string {
  const listed: unknown[] = Array.isArray(doc['cniVersions']) ? (doc['cniVersions'] as unknown[]) : [];
  const offered = [doc['cniVersion'], ...listed].filter(
    (v): v is string => typeof v === 'string' && v !== '' && compareVersions(v, newestKnown) <= 0,
  );
  return offered.sort(compareVersions).at(-1) ?? '';
}

/**
 * Reads the file findCniConfig chose. A `.conflist` is a list; a `.conf`/`.json` is one plugin, run as a list of
 * one (libcni's ConfListFromConf). Errors name the file: it may have changed since it was found.
 */
export async function loadNetworkList(file: string): Promise<NetworkList> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw failedPrecondition(`cannot read cni config ${file}: ${(err as Error).message}`);
  }
  if (!isRecord(doc) || typeof doc['name'] !== 'string' || doc['name'] === '') {
    throw failedPrecondition(`cni config ${file} has no network name`);
  }
  const plugins = file.endsWith('.conflist') ? doc['plugins'] : [doc];
  if (!Array.isArray(plugins) || plugins.length === 0)
    throw failedPrecondition(`cni config ${file} has no plugins`);
  for (const p of plugins) {
    if (!isRecord(p) || typeof p['type'] !== 'string') {
      throw failedPrecondition(`cni config ${file} has a plugin without a type`);
    }
  }
  return { name: doc['name'], cniVersion: selectVersion(doc), plugins: plugins as Record<string, unknown>[] };
}

/**
 * The request config of one plugin invocation (SPEC.md section 3, "Deriving request configuration"): the plugin
 * object with the list's name and version, `runtimeConfig` holding only the capability args the plugin declares
 * in `capabilities`, and `prevResult` when there is one; `capabilities` and `cni.dev/` keys are removed.
 */
export function pluginRequest(
  list: NetworkList,
  plugin: Record<string, unknown>,
  capabilityArgs: Record<string, unknown>,
  prevResult: unknown,
): Record<string, unknown> {
  const request: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(plugin)) {
    if (key === 'capabilities' || key === 'runtimeConfig' || key === 'prevResult' || key.startsWith('cni.dev/')) {
      continue;
    }
    request[key] = value;
  }
  request['cniVersion'] = list.cniVersion;
  request['name'] = list.name;
  const declared = isRecord(plugin['capabilities']) ? plugin['capabilities'] : {};
  const runtimeConfig: Record<string, unknown> = {};
  for (const [capability, arg] of Object.entries(capabilityArgs)) {
    if (declared[capability] === true) runtimeConfig[capability] = arg;
  }
  if (Object.keys(runtimeConfig).length > 0) request['runtimeConfig'] = runtimeConfig;
  if (prevResult !== undefined && prevResult !== null) request['prevResult'] = prevResult;
  return request;
}

/**
 * Whether DEL gets the cached ADD result as prevResult: spec 0.4.0 introduced it, and older plugins may refuse
 * the unknown key (libcni passes it from 0.4.0 on, too).
 */
export function delTakesPrevResult(version: string): boolean {
  return version !== '' && compareVersions(version, '0.4.0') >= 0;
}
