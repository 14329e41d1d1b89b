import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { NamespaceMode, type LinuxContainerResources, type PodSandboxConfig } from '../cri/types.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errors/errors.js';
import type { ImageService } from '../image/image-service.js';
import type { Logger } from '../log/logger.js';
import type { OciRuntime } from '../oci/oci-runtime.js';
import { readBundleSpec, writeBundleSpec } from '../oci/bundle-spec.js';
import { mountImageRootfs, unmountRootfs } from '../oci/rootfs.js';
import type { CniNetwork, CniPortMapping } from './cni.js';
import { KeyedMutex } from './keyed-mutex.js';
import { pinNamespaces, unpinNamespaces, type PinnableNamespace } from './namespaces.js';
import { buildPauseSpec } from './pause-spec.js';
import {
  applyPodLimits,
  containerCgroupsPath,
  podCgroupParent,
  podLimits,
  removePodCgroup,
  type CgroupHierarchies,
} from './pod-cgroup.js';
import { canStop, sandboxName, type SandboxRecord } from './sandbox.js';
import {
  defaultShmBytes,
  mountShm,
  podHostname,
  sandboxPaths,
  unmountShm,
  writeHostnameFile,
  writeResolvConf,
} from './sandbox-files.js';
import { RecordStore } from '../store/record-store.js';
import { raceSignal, rollback, type Undo } from './undo.js';

export interface PodDeps {
  config: Config;
  log: Logger;
  images: ImageService;
  /** The runtime for a handler name ("" is the default); undefined for an unknown handler. */
  runtime: (handler: string) => OciRuntime | undefined;
  cni: CniNetwork;
  cgroups: CgroupHierarchies;
  exitDir: string;
}

export interface SandboxFilter {
  idPrefix: string;
  state: 'ready' | 'notready' | undefined;
  labels: Record<string, string>;
}

/** How long cleanup of a failed creation may take; it runs on its own clock, not the request's. */
const cleanupTimeoutMs = 60_000;
/** Seconds the pause process gets to exit on SIGTERM before SIGKILL. */
const pauseStopSeconds = 2;

/**
 * Pod sandboxes: pinned namespaces, the pod network, the pod cgroup, the pause container. Every creation step
 * pushes its undo, run in reverse on failure; a creation whose client gave up finishes anyway and is parked
 * for kubelet's retry of the same metadata.
 */
export class PodSandboxes {
  private readonly store: RecordStore<SandboxRecord>;
  private readonly locks = new KeyedMutex();
  private readonly creations = new Map<string, Promise<SandboxRecord>>();
  private podCidr = '';

  constructor(private readonly deps: PodDeps) {
    this.store = new RecordStore<SandboxRecord>(join(deps.config.root, 'sandboxes'), 'sandbox.json', deps.log);
  }

  /** Loads the records and reconciles them with the runtime: a pause that died while we were down makes NOTREADY. */
  async init(): Promise<void> {
    await this.store.load();
    for (const s of this.store.list()) {
      if (s.state !== 'ready') continue;
      const state = await this.runtimeOf(s).state(s.pause.containerId);
      if (state === undefined || state.status === 'stopped') {
        this.deps.log.info({ sandbox: s.id }, 'Pause container is gone; sandbox is not ready');
        await this.store.save({ ...s, state: 'notready' });
      }
    }
  }

  private runtimeOf(s: SandboxRecord): OciRuntime {
    const r = this.deps.runtime(s.runtimeHandler);
    if (r === undefined)
      throw failedPrecondition(
        `sandbox ${s.id} uses runtime handler ${s.runtimeHandler}, which is no longer configured`,
      );
    return r;
  }

  /** The pause container's config.json (for verbose status); undefined once the bundle is gone (stopped pod). */
  runtimeSpec(s: SandboxRecord): Promise<unknown> {
    return readBundleSpec(s.pause.bundle);
  }

  get(id: string): SandboxRecord {
    const s = this.store.get(id);
    if (s === undefined) throw notFound(`pod sandbox ${id} not found`);
    return s;
  }

  find(id: string): SandboxRecord | undefined {
    return this.store.get(id);
  }

  list(filter: SandboxFilter): SandboxRecord[] {
    return this.store
      .byPrefix(filter.idPrefix)
      .filter((s) => filter.state === undefined || s.state === filter.state)
      .filter((s) => Object.entries(filter.labels).every(([k, v]) => s.config.labels[k] === v));
  }

  setPodCidr(cidr: string): void {
    this.podCidr = cidr;
  }

  get cidr(): string {
    return this.podCidr;
  }

  /** RunPodSandbox. */
  async run(config: PodSandboxConfig, handler: string, signal: AbortSignal, log: Logger): Promise<string> {
    const m = config.metadata;
    if (m === null || m.name === '' || m.namespace === '' || m.uid === '') {
      throw invalidArgument('pod sandbox metadata needs name, namespace and uid');
    }
    const handlerName = handler === '' ? this.deps.config.runtime.default_runtime : handler;
    if (this.deps.runtime(handlerName) === undefined)
      throw invalidArgument(`unknown runtime handler ${JSON.stringify(handler)}`);
    const name = sandboxName(config);

    const existing = this.store.byName(name);
    if (existing !== undefined) {
      if (existing.delivered) throw alreadyExists(`pod sandbox name ${name} is already used by ${existing.id}`);
      log.info({ sandbox: existing.id }, 'Returning a sandbox whose creation finished after its client left');
      await this.store.save({ ...existing, delivered: true });
      return existing.id;
    }
    let creation = this.creations.get(name);
    if (creation === undefined) {
      const started = this.create(config, handlerName, name, log);
      creation = started;
      this.creations.set(name, started);
      void started.then(
        () => this.creations.delete(name),
        () => this.creations.delete(name),
      );
    } else {
      log.info({ name }, 'Waiting for the creation of the same sandbox already in progress');
    }
    const record = await raceSignal(creation, signal);
    const current = this.store.get(record.id);
    if (current !== undefined && !current.delivered) await this.store.save({ ...current, delivered: true });
    return record.id;
  }

  private async create(
    config: PodSandboxConfig,
    handler: string,
    name: string,
    log: Logger,
  ): Promise<SandboxRecord> {
    const { deps } = this;
    const id = randomBytes(32).toString('hex');
    const paths = sandboxPaths(deps.config.root, deps.config.runroot, id);
    const runtime = deps.runtime(handler);
    if (runtime === undefined) throw invalidArgument(`unknown runtime handler ${handler}`);
    const nsOptions = config.linux?.security_context?.namespace_options ?? null;
    const hostNetwork = nsOptions?.network === NamespaceMode.NODE;
    const hostIpc = nsOptions?.ipc === NamespaceMode.NODE;
    const hostPid = nsOptions?.pid === NamespaceMode.NODE;
    const sysctls = config.linux?.sysctls ?? {};
    for (const key of Object.keys(sysctls)) {
      if (hostNetwork && key.startsWith('net.'))
        throw invalidArgument(`sysctl ${key} cannot be set for a pod on the host network`);
      if (
        hostIpc &&
        (key.startsWith('kernel.shm') ||
          key.startsWith('kernel.msg') ||
          key.startsWith('kernel.sem') ||
          key.startsWith('fs.mqueue.'))
      ) {
        throw invalidArgument(`sysctl ${key} cannot be set for a pod in the host IPC namespace`);
      }
    }
    const hostname = podHostname(config.hostname, id, hostNetwork);
    const slog = log.child({
      sandbox: id,
      pod: `${config.metadata?.namespace ?? ''}/${config.metadata?.name ?? ''}`,
    });
    const undo: Undo[] = [];
    // Creation runs to the end even when its client leaves; only a daemon shutdown would stop it.
    const signal = new AbortController().signal;
    try {
      await mkdir(paths.runDir, { recursive: true, mode: 0o711 });
      undo.push({ what: 'run dir', run: () => rm(paths.runDir, { recursive: true, force: true }) });

      const { parent, owned } = podCgroupParent(
        config.linux?.cgroup_parent ?? '',
        id,
        deps.config.runtime.cgroup_manager,
      );
      if (owned) undo.push({ what: 'pod cgroup', run: () => removePodCgroup(deps.cgroups, parent) });
      const limits = podLimits(config.linux?.resources ?? null, config.linux?.overhead ?? null);
      if (limits !== undefined && deps.config.runtime.cgroup_manager === 'cgroupfs')
        await applyPodLimits(deps.cgroups, parent, limits);

      const kinds: PinnableNamespace[] = [];
      if (!hostNetwork) kinds.push('net', 'uts');
      if (!hostIpc) kinds.push('ipc');
      const namespaces = await pinNamespaces(paths.nsDir, kinds, sysctls, signal);
      undo.push({ what: 'namespaces', run: () => unpinNamespaces(namespaces) });

      await writeHostnameFile(paths.hostnameFile, hostname);
      await writeResolvConf(paths.resolvConf, config.dns_config);
      if (!hostIpc) {
        await mountShm(paths.shm, defaultShmBytes);
        undo.push({ what: 'shm', run: () => unmountShm(paths.shm) });
      }

      let network = {
        ip: '',
        additionalIps: [] as string[],
        interfaces: [] as { name: string; mac?: string; sandbox?: string }[],
      };
      if (!hostNetwork) {
        if (namespaces.net === undefined) throw failedPrecondition('no network namespace was pinned');
        const podRef = {
          podName: config.metadata?.name ?? '',
          podNamespace: config.metadata?.namespace ?? '',
          podUid: config.metadata?.uid ?? '',
        };
        const attachment = await deps.cni.attach(
          { sandboxId: id, netns: namespaces.net, ...podRef, portMappings: portMappings(config) },
          signal,
        );
        undo.push({
          what: 'network',
          run: () =>
            deps.cni.detach(
              { sandboxId: id, ...(namespaces.net === undefined ? {} : { netns: namespaces.net }), ...podRef },
              AbortSignal.timeout(cleanupTimeoutMs),
            ),
        });
        const ips = attachment.ips.map((i) => i.address.split('/')[0] ?? '');
        network = { ip: ips[0] ?? '', additionalIps: ips.slice(1), interfaces: attachment.interfaces };
      }

      const pauseImage = await this.pauseImage(signal, slog);
      const rootfs = join(paths.bundle, 'rootfs');
      const upperDir = join(paths.bundle, 'upper');
      const workDir = join(paths.bundle, 'work');
      for (const dir of [rootfs, upperDir, workDir]) await mkdir(dir, { recursive: true });
      // A writable upper dir lets runc create mount points the image lacks (/proc, /dev); the spec then makes
      // the root read-only for the pause process itself.
      await mountImageRootfs(
        deps.images.layerPaths(pauseImage),
        rootfs,
        { upperDir, workDir, readonly: false },
        signal,
      );
      undo.push({ what: 'pause rootfs', run: () => unmountRootfs(rootfs) });

      const imageConfig = await deps.images.config(pauseImage);
      const spec = await buildPauseSpec({
        imageConfig,
        rootfs,
        hostname,
        namespaces,
        hostNetwork,
        hostIpc,
        hostPid,
        resolvConf: paths.resolvConf,
        hostnameFile: paths.hostnameFile,
        shm: hostIpc ? undefined : paths.shm,
        cgroupsPath: containerCgroupsPath(parent, id, deps.config.runtime.cgroup_manager),
        restrictOomScoreAdj: deps.config.runtime.restrict_oom_score_adj,
        seccompDefaultProfile: deps.config.runtime.seccomp_profile,
        sandboxId: id,
        config,
      });
      await writeBundleSpec(paths.bundle, spec);
      const created = await runtime.create(
        {
          id,
          name: `${name}_pause`,
          bundle: paths.bundle,
          logPath: join(paths.runDir, 'pause.log'),
          exitDir: deps.exitDir,
          persistDir: paths.bundle,
          socketDir: join(deps.config.runroot, 'attach'),
          terminal: false,
          stdin: false,
          stdinOnce: false,
        },
        signal,
      );
      undo.push({ what: 'pause container', run: () => runtime.delete(id, true) });
      await runtime.start(id, signal);

      const record: SandboxRecord = {
        id,
        name,
        config,
        runtimeHandler: handler,
        createdAt: String(BigInt(Date.now()) * 1_000_000n),
        state: 'ready',
        hostNetwork,
        hostIpc,
        hostPid,
        namespaces,
        network,
        cgroupParent: parent,
        ownsCgroup: owned,
        dir: paths.dir,
        runDir: paths.runDir,
        shmPath: hostIpc ? '' : paths.shm,
        hostname,
        pause: {
          containerId: id,
          imageId: pauseImage.id,
          pid: created.pid,
          monitorPid: created.monitorPid,
          bundle: paths.bundle,
          rootfs,
        },
        delivered: false,
      };
      await this.store.save(record);
      slog.info({ ip: network.ip, handler }, 'Pod sandbox is ready');
      return record;
    } catch (err) {
      slog.warn({ error: (err as Error).message }, 'Pod sandbox creation failed; rolling back');
      await rollback(undo, slog);
      throw err;
    }
  }

  /** The pause image, pulled when missing; it is pinned so kubelet never garbage-collects it. */
  private async pauseImage(signal: AbortSignal, log: Logger) {
    const name = this.deps.config.image.pause_image;
    const found = await this.deps.images.resolve(name);
    if (found !== undefined) return found;
    log.info({ image: name }, 'Pulling the pause image');
    return this.deps.images.pull({ image: name, credentials: undefined, annotations: {} }, signal, log);
  }

  /** StopPodSandbox: idempotent; stops the pause container and tears down network and shm. */
  async stop(id: string, log: Logger, stopContainers: (sandboxId: string) => Promise<void>): Promise<void> {
    const s = this.store.get(id);
    if (s === undefined) return; // api.proto: StopPodSandbox must not fail for an unknown sandbox.
    await this.locks.run(id, undefined, async () => {
      const current = this.store.get(id);
      if (current === undefined) return;
      await stopContainers(id);
      await this.teardown(current, log);
    });
  }

  private async teardown(s: SandboxRecord, log: Logger): Promise<void> {
    const runtime = this.runtimeOf(s);
    if (canStop(s)) {
      const state = await runtime.state(s.pause.containerId);
      if (state !== undefined && state.status === 'running') {
        await runtime.stop(
          s.pause.containerId,
          state.pid,
          'TERM',
          pauseStopSeconds,
          AbortSignal.timeout(cleanupTimeoutMs),
        );
      }
    }
    if (!s.hostNetwork) {
      await this.deps.cni.detach(
        {
          sandboxId: s.id,
          ...(s.namespaces.net === undefined ? {} : { netns: s.namespaces.net }),
          podName: s.config.metadata?.name ?? '',
          podNamespace: s.config.metadata?.namespace ?? '',
          podUid: s.config.metadata?.uid ?? '',
        },
        AbortSignal.timeout(cleanupTimeoutMs),
      );
    }
    if (s.shmPath !== '') await unmountShm(s.shmPath);
    await unpinNamespaces(s.namespaces);
    if (s.state !== 'notready') {
      await this.store.save({ ...s, state: 'notready' });
      log.info({ sandbox: s.id }, 'Pod sandbox stopped');
    }
  }

  /** RemovePodSandbox: idempotent; stops first when needed and removes every trace. */
  async remove(id: string, log: Logger, removeContainers: (sandboxId: string) => Promise<void>): Promise<void> {
    if (this.store.get(id) === undefined) return;
    await this.locks.run(id, undefined, async () => {
      const s = this.store.get(id);
      if (s === undefined) return;
      await removeContainers(id);
      await this.teardown(s, log);
      await this.runtimeOf(s).delete(s.pause.containerId, true);
      await unmountRootfs(s.pause.rootfs);
      if (s.ownsCgroup) await removePodCgroup(this.deps.cgroups, s.cgroupParent);
      await rm(s.runDir, { recursive: true, force: true });
      await this.store.delete(s);
      log.info({ sandbox: id }, 'Pod sandbox removed');
    });
  }

  /** The pause container of a sandbox exited (seen by the exit watcher). */
  async pauseExited(containerId: string, code: number): Promise<void> {
    const s = this.store.get(containerId);
    if (s === undefined || s.state !== 'ready') return;
    this.deps.log.warn({ sandbox: s.id, code }, 'Pause container exited; sandbox is not ready');
    await this.locks.run(s.id, undefined, async () => {
      const current = this.store.get(s.id);
      if (current?.state === 'ready') await this.store.save({ ...current, state: 'notready' });
    });
  }

  /** UpdatePodSandboxResources: best effort, kubelet has already resized the pod cgroup it manages. */
  async updateResources(
    id: string,
    overhead: LinuxContainerResources | null,
    resources: LinuxContainerResources | null,
  ): Promise<void> {
    const s = this.get(id);
    const limits = podLimits(resources, overhead);
    if (limits !== undefined && this.deps.config.runtime.cgroup_manager === 'cgroupfs') {
      await applyPodLimits(this.deps.cgroups, s.cgroupParent, limits);
    }
  }
}

function portMappings(config: PodSandboxConfig): CniPortMapping[] {
  const protocols = { 0: 'tcp', 1: 'udp', 2: 'sctp' } as const;
  return config.port_mappings
    .filter((p) => p.host_port > 0)
    .map((p) => ({
      hostPort: p.host_port,
      containerPort: p.container_port,
      protocol: protocols[p.protocol],
      hostIP: p.host_ip,
    }));
}
