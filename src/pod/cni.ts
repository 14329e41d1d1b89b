import { statfs } from 'node:fs/promises';
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import type { Logger } from '../log/logger.js';
import { abortError, alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errors/errors.js';
import { findCniConfig } from './cni-config.js';
import { CniCache, type CniCacheEntry } from './cni-cache.js';
import { execPlugin, findPlugin, type CniCommand } from './cni-exec.js';
import { delTakesPrevResult, loadNetworkList, pluginRequest, type NetworkList } from './cni-netconf.js';
import { toAttachment, type CniAttachment } from './cni-result.js';
import { KeyedMutex } from './keyed-mutex.js';

export type { CniAttachment } from './cni-result.js';

/** A hostPort mapping as the portmap plugin's `portMappings` capability takes it (CNI CONVENTIONS.md). */
export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** "" for every host address. */
  hostIP: string;
}

export interface CniNetworkOptions {
  confDir: string;
  pluginDirs: string[];
  cacheDir: string;
  log: Logger;
  /** Per plugin invocation; the request's signal still applies. */
  pluginTimeoutMs?: number;
}

interface PodRef {
  sandboxId: string;
  ifName?: string;
  podName: string;
  podNamespace: string;
  podUid: string;
}

const defaultIfName = 'eth0';
const defaultPluginTimeoutMs = 60_000;
// Cleanup after a failed ADD runs under its own deadline, never the request's (which may be what fired).
const cleanupTimeoutMs = 120_000;
// SPEC.md: a container id starts alphanumeric, then alphanumerics, '_', '.', '-'. It also names the cache file.
const containerIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NSFS_MAGIC = 0x6e736673;
// containerd and cri-o bring loopback up with the loopback plugin under this network name.
const loopback: NetworkList = { name: 'cni-loopback', cniVersion: '0.3.1', plugins: [{ type: 'loopback' }] };

function validateSandboxId(sandboxId: string): void {
  if (!containerIdPattern.test(sandboxId))
    throw invalidArgument(`invalid sandbox id ${JSON.stringify(sandboxId)}`);
}

function validateRef(req: PodRef): string {
  validateSandboxId(req.sandboxId);
  const ifName = req.ifName ?? defaultIfName;
  if (ifName === '' || ifName.length > 15 || ifName === '.' || ifName === '..' || /[/:\s]/.test(ifName)) {
    throw invalidArgument(`invalid interface name ${JSON.stringify(ifName)} for sandbox ${req.sandboxId}`);
  }
  // CNI_ARGS is K=V;K=V with no quoting: a separator inside a value would forge another argument.
  for (const [key, value] of [
    ['pod name', req.podName],
    ['pod namespace', req.podNamespace],
    ['pod uid', req.podUid],
  ] as const) {
    if (/[;=\s]/.test(value))
      throw invalidArgument(`${key} ${JSON.stringify(value)} of sandbox ${req.sandboxId} cannot be passed to cni`);
  }
  return ifName;
}

function validatePorts(sandboxId: string, ports: readonly CniPortMapping[]): void {
  const isPort = (n: number): boolean => Number.isInteger(n) && n > 0 && n < 65536;
  for (const p of ports) {
    if (!isPort(p.hostPort) || !isPort(p.containerPort) || !['tcp', 'udp', 'sctp'].includes(p.protocol)) {
      throw invalidArgument(
        `invalid port mapping ${String(p.hostPort)}:${String(p.containerPort)}/${p.protocol} for sandbox ${sandboxId}`,
      );
    }
    if (p.hostIP !== '' && isIP(p.hostIP) === 0) {
      throw invalidArgument(
        `invalid host ip ${JSON.stringify(p.hostIP)} in a port mapping of sandbox ${sandboxId}`,
      );
    }
  }
}

/** Whether path is a pinned (bind-mounted) namespace, not a leftover empty file a plugin would choke on. */
async function isNamespaceFile(path: string): Promise<boolean> {
  try {
    return (await statfs(path)).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/** The cache entry of an attachment: everything a later DEL must repeat. Saved before the first ADD. */
function newEntry(
  req: PodRef,
  ifName: string,
  netns: string,
  file: string,
  list: NetworkList,
  ports: readonly CniPortMapping[],
): CniCacheEntry {
  return {
    kind: 'cri-ts/cni-attachment/v1',
    sandboxId: req.sandboxId,
    ifName,
    netns,
    file,
    list,
    cniArgs: [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', req.podNamespace],
      ['K8S_POD_NAME', req.podName],
      ['K8S_POD_INFRA_CONTAINER_ID', req.sandboxId],
      ['K8S_POD_UID', req.podUid],
    ],
    // Always passed, even empty, as containerd does: portmap then knows there is nothing to map.
    capabilityArgs: {
      portMappings: ports.map((p) => ({
        hostPort: p.hostPort,
        containerPort: p.containerPort,
        protocol: p.protocol,
        ...(p.hostIP === '' ? {} : { hostIP: p.hostIP }),
      })),
    },
    result: null,
  };
}

/**
 * The pod network through CNI plugins (SPEC.md 1.x): loopback, then the lexically first valid network of the conf
 * dir, ADDed plugin by plugin in order with each result as the next one's prevResult, and DELed in reverse order
 * with the config and result cached at ADD time, so a changed conf dir or a daemon restart cannot strand a pod's
 * IP, veth or hostPort rules. Calls for one sandbox never overlap (the spec forbids parallel operations on one
 * container); different sandboxes proceed in parallel (plugins lock their own shared state).
 */
export class CniNetwork {
  private readonly cache: CniCache;
  private readonly locks = new KeyedMutex();
  private readonly timeoutMs: number;

  constructor(private readonly options: CniNetworkOptions) {
    this.cache = new CniCache(options.cacheDir);
    this.timeoutMs = options.pluginTimeoutMs ?? defaultPluginTimeoutMs;
  }

  /**
   * Sets up loopback in the netns, then ADDs the pod network with capability args (portMappings) and CNI_ARGS
   * (IgnoreUnknown=1, K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID). Caches the config
   * and result for DEL. On failure, runs DEL for the network and rejects naming the plugin and its error.
   */
  async attach(
    req: PodRef & { netns: string; portMappings: CniPortMapping[] },
    signal: AbortSignal,
  ): Promise<CniAttachment> {
    const ifName = validateRef(req);
    validatePorts(req.sandboxId, req.portMappings);
    if (!isAbsolute(req.netns))
      throw invalidArgument(`netns path ${req.netns} of sandbox ${req.sandboxId} is not absolute`);
    return this.locks.run(req.sandboxId, signal, () => this.add(req, ifName, signal));
  }

  /**
   * DEL with the cached config, in reverse plugin order; idempotent (no cache entry: nothing was added); works
   * after a daemon restart and when the netns is gone (CNI_NETNS empty then). Removes the cache entry on success
   * and keeps it on failure, so a later detach can retry. The interface name and CNI_ARGS are the cached ones: DEL
   * must repeat ADD's parameters.
   */
  async detach(req: PodRef & { netns?: string }, signal: AbortSignal): Promise<void> {
    validateSandboxId(req.sandboxId);
    return this.locks.run(req.sandboxId, signal, async () => {
      const log = this.log(req.sandboxId);
      let entry: CniCacheEntry | undefined;
      try {
        entry = await this.cache.read(req.sandboxId);
      } catch (err) {
        // A pod must stay removable: without its cached config, DEL with today's network (libcni's fallback too).
        log.warn({ err }, 'CNI cache entry unreadable; deleting with the current network config');
        entry = await this.currentEntry(req);
      }
      if (entry === undefined) return;
      const netnsPath = req.netns ?? entry.netns;
      const netns = (await isNamespaceFile(netnsPath)) ? netnsPath : '';
      await this.delChain(entry, netns, entry.result, signal);
      await this.cache.remove(req.sandboxId);
      log.info({ network: entry.list.name, netns: netns || '(gone)' }, 'Detached pod network');
    });
  }

  /** The cached attachment of a sandbox (after a restart), or undefined; a half-done ADD is no attachment. */
  async cached(sandboxId: string): Promise<CniAttachment | undefined> {
    if (!containerIdPattern.test(sandboxId)) return undefined;
    const entry = await this.cache.read(sandboxId);
    if (entry === undefined || entry.result === null || entry.result === undefined) return undefined;
    return toAttachment(entry.list.name, entry.result);
  }

  private log(sandboxId: string): Logger {
    return this.options.log.child({ sandbox: sandboxId });
  }

  /** The network pods join now: the lexically first valid config of the conf dir. */
  private async currentNetwork(): Promise<{ file: string; list: NetworkList }> {
    const found = await findCniConfig(this.options.confDir);
    if (!found.ready) throw failedPrecondition(found.message);
    return { file: found.file, list: await loadNetworkList(found.file) };
  }

  private async currentEntry(req: PodRef & { netns?: string }): Promise<CniCacheEntry> {
    const { file, list } = await this.currentNetwork();
    return newEntry(req, req.ifName ?? defaultIfName, req.netns ?? '', file, list, []);
  }

  private async add(
    req: PodRef & { netns: string; portMappings: CniPortMapping[] },
    ifName: string,
    signal: AbortSignal,
  ): Promise<CniAttachment> {
    const log = this.log(req.sandboxId);
    if ((await this.cache.read(req.sandboxId)) !== undefined) {
      throw alreadyExists(`sandbox ${req.sandboxId} is already attached to a cni network`);
    }
    if (!(await isNamespaceFile(req.netns))) {
      throw notFound(`network namespace ${req.netns} of sandbox ${req.sandboxId} is not pinned`);
    }
    const { file, list } = await this.currentNetwork();
    // Every binary is looked up first, so a missing plugin fails before anything is half set up.
    await this.resolvePlugins(loopback);
    await this.resolvePlugins(list);

    await this.runChain('ADD', loopback, req.sandboxId, req.netns, 'lo', [], {}, signal);

    const entry = newEntry(req, ifName, req.netns, file, list, req.portMappings);
    await this.cache.write(entry);
    try {
      const result = await this.runChain(
        'ADD',
        list,
        req.sandboxId,
        req.netns,
        ifName,
        entry.cniArgs,
        entry.capabilityArgs,
        signal,
      );
      await this.cache.write({ ...entry, result });
      const attachment = toAttachment(list.name, result);
      log.info({ network: list.name, ips: attachment.ips.map((i) => i.address) }, 'Attached pod network');
      return attachment;
    } catch (err) {
      // The spec wants a DEL after a failed ADD; without a final result it runs without prevResult, as libcni's.
      try {
        await this.delChain(entry, req.netns, null, AbortSignal.timeout(cleanupTimeoutMs));
        await this.cache.remove(req.sandboxId);
      } catch (cleanupErr) {
        log.error(
          { err: cleanupErr, network: list.name },
          'Cleaning up after a failed CNI ADD failed; detach will retry',
        );
      }
      if (signal.aborted) throw abortError(signal);
      throw err;
    }
  }

  private async resolvePlugins(list: NetworkList): Promise<string[]> {
    const paths: string[] = [];
    for (const p of list.plugins) paths.push(await findPlugin(String(p['type']), this.options.pluginDirs));
    return paths;
  }

  private async delChain(
    entry: CniCacheEntry,
    netns: string,
    result: unknown,
    signal: AbortSignal,
  ): Promise<void> {
    const prev = delTakesPrevResult(entry.list.cniVersion) ? result : null;
    await this.runChain(
      'DEL',
      entry.list,
      entry.sandboxId,
      netns,
      entry.ifName,
      entry.cniArgs,
      entry.capabilityArgs,
      signal,
      prev,
    );
  }

  /**
   * Runs every plugin of the list: ADD in order, each getting the previous one's result; DEL in reverse order,
   * each getting the cached final result. Stops at the first failure (SPEC.md section 3). Returns the last result.
   */
  private async runChain(
    command: CniCommand,
    list: NetworkList,
    sandboxId: string,
    netns: string,
    ifName: string,
    args: [string, string][],
    capabilityArgs: Record<string, unknown>,
    signal: AbortSignal,
    delPrevResult: unknown = null,
  ): Promise<unknown> {
    const paths = await this.resolvePlugins(list);
    const order = list.plugins.map((plugin, i) => ({ plugin, path: paths[i] ?? '' }));
    if (command === 'DEL') order.reverse();
    let prev: unknown = command === 'DEL' ? delPrevResult : null;
    for (const { plugin, path } of order) {
      const request = pluginRequest(list, plugin, capabilityArgs, prev);
      const out = await execPlugin(
        String(plugin['type']),
        path,
        { command, containerId: sandboxId, netns, ifName, args, pluginDirs: this.options.pluginDirs },
        request,
        { signal, timeoutMs: this.timeoutMs, log: this.log(sandboxId) },
      );
      // A plugin must print its result on ADD; one that printed nothing is taken to have changed nothing.
      if (command === 'ADD' && out !== undefined) prev = out;
    }
    return prev;
  }
}
