import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { Config } from '../config/config.js';
import type { ContainerConfig, LinuxContainerResources, PodSandboxConfig } from '../cri/types.js';
import { alreadyExists, CriError, failedPrecondition, invalidArgument, notFound } from '../errors/errors.js';
import type { ImageService } from '../image/image-service.js';
import type { Logger } from '../log/logger.js';
import { oomKilled, readExit } from '../oci/exit-watcher.js';
import type { OciRuntime } from '../oci/oci-runtime.js';
import { readBundleSpec, writeBundleSpec } from '../oci/bundle-spec.js';
import { mountImageRootfs, unmountRootfs } from '../oci/rootfs.js';
import { RecordStore } from '../store/record-store.js';
import { containerName, exitReason, nowNs, type ContainerRecord, type ContainerState } from './container.js';
import { buildContainerSpec } from './container-spec.js';
import { containerResources } from './container-spec-resources.js';
import { KeyedMutex } from './keyed-mutex.js';
import { cgroupStats } from './cgroup-stats.js';
import { CpuRateTracker } from './cpu-rate.js';
import { containerCgroupsPath, type CgroupHierarchies } from './pod-cgroup.js';
import { diskUsage, type DiskUsage } from '../image/disk-usage.js';
import type { PodSandboxes } from './sandbox-manager.js';
import { raceSignal, rollback, type Undo } from './undo.js';

export interface ContainerDeps {
  config: Config;
  log: Logger;
  images: ImageService;
  pods: PodSandboxes;
  runtime: (handler: string) => OciRuntime | undefined;
  exitDir: string;
  cgroups: CgroupHierarchies;
  metrics: ContainerMetrics;
}

/** What the container layer reports to Prometheus (implemented by src/metrics). */
export interface ContainerMetrics {
  setContainerCounts(counts: Record<ContainerState, number>): void;
  containerOomKilled(): void;
  execSyncFinished(seconds: number, timedOut: boolean): void;
  monitorFailed(): void;
}

export interface ContainerFilter {
  idPrefix: string;
  podIdPrefix: string;
  state: ContainerState | undefined;
  labels: Record<string, string>;
}

/** ExecSync output per stream is capped here; the rest is dropped without error (CVE-2022-1708). */
const maxExecOutput = 16 * 1024 * 1024;
const cleanupTimeoutMs = 60_000;
const layerUsageMaxAgeMs = 5_000;

/**
 * Containers of pod sandboxes: rootfs (the image's layers under a per-container writable layer), config.json
 * from the CRI config, launch under conmon, exits from conmon's exit files, ExecSync.
 */
export class Containers {
  private readonly store: RecordStore<ContainerRecord>;
  private readonly locks = new KeyedMutex();
  private readonly creations = new Map<string, Promise<ContainerRecord>>();
  private readonly cpuRates = new CpuRateTracker();
  private readonly layerUsage = new Map<string, { at: number; usage: DiskUsage }>();

  constructor(private readonly deps: ContainerDeps) {
    this.store = new RecordStore<ContainerRecord>(
      join(deps.config.root, 'containers'),
      'container.json',
      deps.log,
    );
  }

  /** Keeps the containers-by-state gauge in step with the store. */
  private countStates(): void {
    const counts: Record<ContainerState, number> = { created: 0, running: 0, exited: 0 };
    for (const c of this.store.list()) counts[c.state] += 1;
    this.deps.metrics.setContainerCounts(counts);
  }

  private async save(record: ContainerRecord): Promise<void> {
    await this.store.save(record);
    this.countStates();
  }

  /** Loads the records and catches up with exits that happened while the daemon was down. */
  async init(): Promise<void> {
    await this.store.load();
    this.countStates();
    for (const c of this.store.list()) {
      if (c.state === 'exited') continue;
      const exit = await readExit(this.deps.exitDir, c.id);
      if (exit !== undefined) {
        await this.applyExit(c, exit.exitCode, exit.finishedAt);
        continue;
      }
      const state = await this.runtimeOf(c).state(c.id);
      if (state === undefined || state.status === 'stopped') {
        await this.save({
          ...c,
          state: 'exited',
          exitCode: 255,
          reason: 'Error',
          message: 'container state lost',
          finishedAt: nowNs(),
        });
      }
    }
  }

  private runtimeOf(c: ContainerRecord): OciRuntime {
    const r = this.deps.runtime(c.runtimeHandler);
    if (r === undefined)
      throw failedPrecondition(
        `container ${c.id} uses runtime handler ${c.runtimeHandler}, which is not configured`,
      );
    return r;
  }

  get(id: string): ContainerRecord {
    const c = this.store.get(id);
    if (c === undefined) throw notFound(`container ${id} not found`);
    return c;
  }

  list(filter: ContainerFilter): ContainerRecord[] {
    return this.store
      .byPrefix(filter.idPrefix)
      .filter((c) => c.sandboxId.startsWith(filter.podIdPrefix))
      .filter((c) => filter.state === undefined || c.state === filter.state)
      .filter((c) => Object.entries(filter.labels).every(([k, v]) => c.config.labels[k] === v));
  }

  usesImage(imageId: string): boolean {
    return this.store.list().some((c) => c.imageId === imageId);
  }

  /** CreateContainer; a retry of a creation that finished after its client left gets the parked container. */
  async create(
    podId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig | null,
    signal: AbortSignal,
    log: Logger,
  ): Promise<string> {
    const sandbox = this.deps.pods.get(podId);
    if (sandbox.state !== 'ready') throw failedPrecondition(`pod sandbox ${podId} is not ready`);
    if (config.metadata === null || config.metadata.name === '')
      throw invalidArgument('container metadata needs a name');
    if ((config.image?.image ?? '') === '') throw invalidArgument('container config needs an image');
    const m = sandbox.config.metadata;
    const name = containerName(config, {
      name: m?.name ?? '',
      namespace: m?.namespace ?? '',
      uid: m?.uid ?? '',
      attempt: m?.attempt ?? 0,
    });
    const existing = this.store.byName(name);
    if (existing !== undefined) {
      if (existing.delivered) throw alreadyExists(`container name ${name} is already used by ${existing.id}`);
      await this.save({ ...existing, delivered: true });
      return existing.id;
    }
    let creation = this.creations.get(name);
    if (creation === undefined) {
      const started = this.createNew(podId, config, sandboxConfig, name, log);
      creation = started;
      this.creations.set(name, started);
      void started.then(
        () => this.creations.delete(name),
        () => this.creations.delete(name),
      );
    }
    const record = await raceSignal(creation, signal);
    const current = this.store.get(record.id);
    if (current !== undefined && !current.delivered) await this.save({ ...current, delivered: true });
    return record.id;
  }

  private async createNew(
    podId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig | null,
    name: string,
    log: Logger,
  ): Promise<ContainerRecord> {
    const { deps } = this;
    const sandbox = deps.pods.get(podId);
    const imageName = config.image?.image ?? '';
    const image = await deps.images.resolve(imageName);
    if (image === undefined) throw notFound(`image ${imageName} not found; pull it first`);
    const runtime = deps.runtime(sandbox.runtimeHandler);
    if (runtime === undefined)
      throw failedPrecondition(`runtime handler ${sandbox.runtimeHandler} is not configured`);
    const id = randomBytes(32).toString('hex');
    const clog = log.child({ container: id, name });
    const dir = join(deps.config.root, 'containers', id);
    const bundle = join(deps.config.runroot, 'containers', id);
    const rootfs = join(bundle, 'rootfs');
    const undo: Undo[] = [];
    const signal = new AbortController().signal;
    try {
      for (const d of [join(dir, 'upper'), join(dir, 'work'), rootfs])
        await mkdir(d, { recursive: true, mode: 0o711 });
      undo.push({
        what: 'container dirs',
        run: () =>
          rm(dir, { recursive: true, force: true }).then(() => rm(bundle, { recursive: true, force: true })),
      });
      await mountImageRootfs(
        deps.images.layerPaths(image),
        rootfs,
        { upperDir: join(dir, 'upper'), workDir: join(dir, 'work'), readonly: false },
        signal,
      );
      undo.push({ what: 'rootfs', run: () => unmountRootfs(rootfs) });

      const built = await buildContainerSpec({
        containerId: id,
        config,
        sandbox,
        sandboxConfig,
        imageConfig: await deps.images.config(image),
        rootfs,
        cgroupsPath: containerCgroupsPath(sandbox.cgroupParent, id, deps.config.runtime.cgroup_manager),
        restrictOomScoreAdj: deps.config.runtime.restrict_oom_score_adj,
        seccompDefaultProfile: deps.config.runtime.seccomp_profile,
        pidsLimit: deps.config.runtime.pids_limit,
        recursiveReadOnlyMounts: (await runtime.features()).recursiveReadOnlyMounts,
      });
      await writeBundleSpec(bundle, built.spec);

      const logDir = sandbox.config.log_directory;
      const logPath =
        logDir !== '' && config.log_path !== '' ? join(logDir, config.log_path) : join(bundle, 'container.log');
      if (!isAbsolute(logPath)) throw invalidArgument(`log path ${logPath} is not absolute`);
      await mkdir(dirname(logPath), { recursive: true });

      const created = await runtime.create(
        {
          id,
          name,
          bundle,
          logPath,
          exitDir: deps.exitDir,
          persistDir: bundle,
          socketDir: join(deps.config.runroot, 'attach'),
          terminal: config.tty,
          stdin: config.stdin,
          stdinOnce: config.stdin_once,
        },
        signal,
      );
      undo.push({ what: 'container', run: () => runtime.delete(id, true) });
      const record: ContainerRecord = {
        id,
        name,
        sandboxId: podId,
        config,
        imageName,
        imageId: image.id,
        imageRef: image.repoTags[0] ?? image.repoDigests[0] ?? image.id,
        runtimeHandler: sandbox.runtimeHandler,
        state: 'created',
        createdAt: nowNs(),
        startedAt: '0',
        finishedAt: '0',
        exitCode: 0,
        reason: '',
        message: '',
        pid: created.pid,
        monitorPid: created.monitorPid,
        dir,
        bundle,
        rootfs,
        logPath,
        user: built.user,
        mounts: built.mounts,
        stopSignal: built.stopSignal,
        delivered: false,
      };
      await this.save(record);
      clog.info({ image: image.id }, 'Container created');
      return record;
    } catch (err) {
      // The rootfs was mounted but no container came out of conmon and the runtime.
      if (undo.some((u) => u.what === 'rootfs') && !undo.some((u) => u.what === 'container')) {
        this.deps.metrics.monitorFailed();
      }
      clog.warn({ error: (err as Error).message }, 'Container creation failed; rolling back');
      await rollback(undo, clog);
      throw err;
    }
  }

  async start(id: string, log: Logger): Promise<void> {
    await this.locks.run(id, undefined, async () => {
      const c = this.get(id);
      if (c.state !== 'created') throw failedPrecondition(`container ${id} is ${c.state}, not created`);
      // Taken before the start: a process that exits at once must not seem to finish before it started.
      const startedAt = nowNs();
      await this.runtimeOf(c).start(id, AbortSignal.timeout(cleanupTimeoutMs));
      await this.save({ ...c, state: 'running', startedAt });
      log.info({ container: id }, 'Container started');
    });
    // An exit that raced the start is applied now that the record says running.
    const exit = await readExit(this.deps.exitDir, id);
    if (exit !== undefined) await this.exited(id, exit.exitCode);
  }

  /** StopContainer: idempotent; stop signal, then SIGKILL after the timeout. */
  async stop(id: string, timeoutSeconds: number, log: Logger): Promise<void> {
    if (this.store.get(id) === undefined) return; // api.proto: must not error for an unknown container
    await this.locks.run(id, undefined, async () => {
      const c = this.store.get(id);
      if (c?.state !== 'running') return;
      await this.runtimeOf(c).stop(
        id,
        c.pid,
        c.stopSignal,
        timeoutSeconds,
        AbortSignal.timeout(cleanupTimeoutMs + timeoutSeconds * 1000),
      );
      const exit = await this.waitForExit(id);
      await this.applyExit(c, exit?.exitCode ?? 137, exit?.finishedAt ?? new Date());
      log.info({ container: id, exitCode: exit?.exitCode }, 'Container stopped');
    });
  }

  /** conmon writes the exit file right after the runtime reaped the process; give it a moment. */
  private async waitForExit(id: string): Promise<{ exitCode: number; finishedAt: Date } | undefined> {
    for (let i = 0; i < 50; i++) {
      const exit = await readExit(this.deps.exitDir, id);
      if (exit !== undefined) return exit;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  private async applyExit(c: ContainerRecord, code: number, finishedAt: Date): Promise<void> {
    const oom = await oomKilled(c.bundle);
    if (oom) this.deps.metrics.containerOomKilled();
    await this.save({
      ...c,
      state: 'exited',
      exitCode: code,
      // The exit file's mtime has millisecond resolution; never report a finish before the start.
      finishedAt: String(
        [BigInt(finishedAt.getTime()) * 1_000_000n, BigInt(c.startedAt)].reduce((a, b) => (a > b ? a : b)),
      ),
      reason: exitReason(code, oom),
      message: oom ? 'the container exceeded its memory limit' : '',
    });
  }

  /** An exit file appeared (exit watcher). */
  async exited(id: string, code: number): Promise<void> {
    if (this.store.get(id) === undefined) return;
    await this.locks.run(id, undefined, async () => {
      const c = this.store.get(id);
      if (c?.state !== 'running') return;
      const exit = await readExit(this.deps.exitDir, id);
      await this.applyExit(c, code, exit?.finishedAt ?? new Date());
    });
  }

  /** RemoveContainer: idempotent; a running container is killed first. */
  async remove(id: string, log: Logger): Promise<void> {
    if (this.store.get(id) === undefined) return;
    await this.locks.run(id, undefined, async () => {
      const c = this.store.get(id);
      if (c === undefined) return;
      const runtime = this.runtimeOf(c);
      if (c.state === 'running') await runtime.stop(id, c.pid, 'KILL', 0, AbortSignal.timeout(cleanupTimeoutMs));
      await runtime.delete(id, true);
      await unmountRootfs(c.rootfs);
      await rm(c.bundle, { recursive: true, force: true });
      await rm(join(this.deps.exitDir, id), { force: true });
      await this.store.delete(c);
      this.countStates();
      log.info({ container: id }, 'Container removed');
    });
  }

  async stopAllIn(podId: string, log: Logger): Promise<void> {
    await Promise.all(
      this.store
        .list()
        .filter((c) => c.sandboxId === podId)
        .map((c) => this.stop(c.id, 0, log)),
    );
  }

  async removeAllIn(podId: string, log: Logger): Promise<void> {
    await Promise.all(
      this.store
        .list()
        .filter((c) => c.sandboxId === podId)
        .map((c) => this.remove(c.id, log)),
    );
  }

  /**
   * ReopenContainerLog: conmon reopens its log file when told on the ctl fifo (kubelet renamed the file to rotate
   * it). api.proto: a container that is not running gets an error and no file is created.
   */
  async reopenLog(id: string): Promise<void> {
    const c = this.get(id);
    if (c.state !== 'running')
      throw failedPrecondition(`container ${id} is not running; its log cannot be reopened`);
    const handle = await open(join(c.bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      await handle.write('2 0 0\n');
    } finally {
      await handle.close();
    }
    for (let i = 0; i < 50; i++) {
      if (
        await stat(c.logPath).then(
          () => true,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw failedPrecondition(`conmon did not reopen the log of container ${id} at ${c.logPath}`);
  }

  /**
   * UpdateContainerResources through `runtime update`; the record changes only when the runtime accepted the
   * limits, so ContainerStatus never reports limits that were not applied.
   */
  async updateResources(id: string, linux: LinuxContainerResources | null): Promise<void> {
    await this.locks.run(id, undefined, async () => {
      const c = this.get(id);
      if (c.state === 'exited')
        throw failedPrecondition(`container ${id} has exited; its resources cannot change`);
      const resources = containerResources(linux);
      if (resources !== undefined)
        await this.runtimeOf(c).update(id, resources, AbortSignal.timeout(cleanupTimeoutMs));
      const config = {
        ...c.config,
        linux: c.config.linux === null ? null : { ...c.config.linux, resources: linux },
      };
      await this.save({ ...c, config });
    });
  }

  /** The config.json the runtime ran the container with (for verbose status); undefined once the bundle is gone. */
  runtimeSpec(c: ContainerRecord): Promise<unknown> {
    return readBundleSpec(c.bundle);
  }

  /** Where a container's usage is accounted: its cgroup (cgroupfs form) and its writable layer. */
  placement(c: ContainerRecord): { cgroupPath: string; upperDir: string } {
    return {
      cgroupPath: containerCgroupsPath(this.deps.pods.get(c.sandboxId).cgroupParent, c.id, 'cgroupfs'),
      upperDir: join(c.dir, 'upper'),
    };
  }

  /** The cgroup of a container, its CPU rate and its writable layer's usage, for ContainerStats. */
  async stats(c: ContainerRecord, signal: AbortSignal) {
    const { cgroupPath, upperDir } = this.placement(c);
    const cgroup = await cgroupStats(this.deps.cgroups, cgroupPath);
    const atNs = BigInt(Date.now()) * 1_000_000n;
    return {
      atNs,
      cgroup,
      nanoCores: this.cpuRates.nanoCores(c.id, cgroup.cpuUsageNs, atNs, BigInt(c.startedAt)),
      writable: await this.writableLayerUsage(c, signal),
      upperDir,
    };
  }

  /**
   * Bytes and inodes of the writable layer. Walking a large layer is real I/O and kubelet asks through both the
   * stats and the metrics RPCs, so a walk serves every caller for a few seconds (cAdvisor refreshes once a minute).
   */
  async writableLayerUsage(c: ContainerRecord, signal: AbortSignal): Promise<DiskUsage> {
    const now = Date.now();
    const cached = this.layerUsage.get(c.id);
    if (cached !== undefined && now - cached.at < layerUsageMaxAgeMs) return cached.usage;
    for (const [id, v] of this.layerUsage) if (now - v.at >= layerUsageMaxAgeMs) this.layerUsage.delete(id);
    const usage = await diskUsage(this.placement(c).upperDir, signal);
    this.layerUsage.set(c.id, { at: now, usage });
    return usage;
  }

  /** ExecSync: a non-zero exit is a normal answer; a timeout kills the process and is DeadlineExceeded. */
  async execSync(id: string, cmd: string[], timeoutSeconds: number, signal: AbortSignal) {
    const c = this.get(id);
    if (c.state !== 'running') throw failedPrecondition(`container ${id} is not running`);
    if (cmd.length === 0) throw invalidArgument('exec needs a command');
    const started = process.hrtime.bigint();
    const result = await this.runtimeOf(c).execSync(
      id,
      cmd,
      { timeoutMs: timeoutSeconds * 1000, maxOutputBytes: maxExecOutput, bundle: c.bundle },
      signal,
    );
    this.deps.metrics.execSyncFinished(Number(process.hrtime.bigint() - started) / 1e9, result.timedOut);
    if (result.timedOut)
      throw new CriError(
        'DeadlineExceeded',
        `command ${JSON.stringify(cmd)} timed out after ${String(timeoutSeconds)}s`,
      );
    return result;
  }
}
