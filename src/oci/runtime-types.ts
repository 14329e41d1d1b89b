import type { HandlerFeatures } from './runtime-features.js';
import type { SpecResources } from './spec.js';
import type { ExecSyncOptions, ExecSyncResult } from './runtime-exec.js';
/** What the OCI launch path needs to start one container (a pod's pause container or a workload) under a monitor. */
export interface ContainerCreateOptions {
  id: string;
  name: string;
  /** Holds config.json; the rootfs is prepared by the caller. conmon runs with this as its working directory. */
  bundle: string;
  /** CRI-format log written by conmon (`-l k8s-file:PATH`). */
  logPath: string;
  /** Shared dir the daemon watches; conmon writes `<exitDir>/<id>` with the exit code. */
  exitDir: string;
  /** Per-container dir; conmon writes `exit` and `oom` files there. */
  persistDir: string;
  /** conmon `--socket-dir-path`: `<socketDir>/<id>` becomes a symlink to the bundle, which holds the attach socket. */
  socketDir: string;
  terminal: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  /** Default 240_000 (cri-o's container_create_timeout). */
  createTimeoutMs?: number;
  /**
   * Called with the pid of the (first) conmon process while it still waits on its start pipe, before it forks
   * anything: the place to move the monitor into its cgroup (cri-o's conmon_cgroup), so the long-lived conmon and,
   * when the runtime creates no cgroups itself, the container land there.
   */
  placeMonitor?: (conmonPid: number) => Promise<void>;
}

export type RuntimeStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

export interface RuntimeState {
  id: string;
  status: RuntimeStatus;
  /** The container's init pid on the host; 0 once it stopped (runc reports 0 then). */
  pid: number;
  bundle: string;
}

/** One low-level OCI runtime (runc, crun) driven through its CLI, with conmon as the per-container monitor. */
export interface OciRuntime {
  readonly handler: string;
  /** What the handler supports beyond the OCI basics (runtime `features` and the kernel). */
  features(): Promise<HandlerFeatures>;
  /** Creates the container under a new conmon; resolves with the container's init pid and the conmon pid. */
  create(opts: ContainerCreateOptions, signal: AbortSignal): Promise<{ pid: number; monitorPid: number }>;
  start(id: string, signal: AbortSignal): Promise<void>;
  /** `runtime kill [--all] <id> <signal>`; no error when the container already stopped or is unknown. */
  kill(id: string, signal: string, all: boolean): Promise<void>;
  /** Idempotent: no error when the runtime does not know the container. */
  delete(id: string, force: boolean): Promise<void>;
  /** undefined when the runtime does not know the container. */
  state(id: string): Promise<RuntimeState | undefined>;
  /** Stop: signal, wait up to timeoutSeconds for exit, then KILL; resolves once the process is gone. */
  stop(id: string, pid: number, stopSignal: string, timeoutSeconds: number, signal: AbortSignal): Promise<void>;
  /** `runtime update`: new cgroup limits for a created or running container. */
  update(id: string, resources: SpecResources, signal: AbortSignal): Promise<void>;
  /** Runs a command in the running container to completion (ExecSync); a timeout kills it. */
  execSync(id: string, cmd: string[], options: ExecSyncOptions, signal: AbortSignal): Promise<ExecSyncResult>;
}
