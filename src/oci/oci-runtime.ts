/**
 * The OCI launch path shared by pause containers and workloads: a runc-compatible runtime driven through its CLI,
 * with conmon as the per-container monitor (conmon-create.ts has the create handshake).
 *
 * crun on hybrid cgroup hosts (this machine: v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified that
 * holds hugetlb). crun 1.8.1 refuses every create with "cgroups in hybrid mode not supported, drop all controllers
 * from cgroupv2", and `--cgroup-manager=disabled` does NOT avoid it: libcrun_cgroup_enter() checks for hybrid
 * mode before it looks at the manager (crun src/libcrun/cgroup.c; unchanged on crun's main branch). So "crun with
 * its cgroup manager disabled" is not a configuration that runs here at all. The two honest ways out:
 *
 * 1. Node level, what crun's message asks for: leave no controller on the cgroup2 mount (boot with hugetlb on a
 *    v1 hierarchy, or a pure v1 / pure v2 host). Then crun runs natively. This changes the node for every
 *    workload and is the operator's call, not ours.
 * 2. What `cgroupV1View: true` does: run crun in a private mount namespace in which /sys/fs/cgroup/unified is not
 *    mounted (cgroup-view.ts). crun then sees a plain v1 host and uses its ordinary cgroupfs/systemd manager: it
 *    creates the container's cgroups under linux.cgroupsPath in every v1 controller and applies the limits, just
 *    as runc does here. What it cannot manage is what lives only on cgroup2 — hugetlb limits (runc on this host
 *    has no v1 hugetlb hierarchy to write them to either) and `unified` resources — and it costs an unshare plus a
 *    shell per runtime call (a few ms). Only the runtime process sees the reduced view: conmon, its OOM watch
 *    (memory.oom_control, v1) and cri-ts itself keep the host's.
 *
 * With a disabled cgroup manager (on a host where crun accepts it, e.g. pure v2 with `--cgroup-manager=disabled`)
 * the container would simply inherit conmon's cgroups, so cri-ts would have to place it itself: create the
 * container's cgroup dirs and write the limits, then either move conmon there from `placeMonitor` (before conmon
 * forks; conmon's own memory and pids are then charged to the container) or move the init pid between create
 * and start (it is the only process then, blocked on the exec fifo; all later children inherit the cgroup). We
 * do not do that: option 2 keeps cgroup management in the runtime, where runc has it too.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupManager, RuntimeHandlerConfig } from '../config/config.js';
import { CriError, failedPrecondition, internal, invalidArgument, notFound } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';
import { detectCgroupLayout, v1ViewInvocation } from './cgroup-view.js';
import { createWithConmon } from './conmon-create.js';
import { assertContainerId } from './container-id.js';
import { readProcStat, waitForProcessExit } from './proc-stat.js';
import { runCommand, runtimeErrorText, type CommandResult, type RuntimeInvocation } from './runtime-command.js';
import { execInContainer, type ExecSyncOptions, type ExecSyncResult } from './runtime-exec.js';
import { probeHandlerFeatures, type HandlerFeatures } from './runtime-features.js';
import type { SpecResources } from './spec.js';
import type { ContainerCreateOptions, OciRuntime, RuntimeState, RuntimeStatus } from './runtime-types.js';

export type { ContainerCreateOptions, OciRuntime, RuntimeState, RuntimeStatus } from './runtime-types.js';

export interface OciRuntimeOptions {
  cgroupManager: CgroupManager;
  log: Logger;
  /**
   * On a hybrid cgroup host, run the runtime where the cgroup2 mount is hidden so it manages the v1 controllers
   * (needed for crun; see the note at the top of this file). Ignored on v1-only and v2 hosts.
   */
  cgroupV1View?: boolean;
  /** Timeout of one runtime call (state, start, kill, delete). Default 120 s. */
  commandTimeoutMs?: number;
}

const statuses: readonly RuntimeStatus[] = ['creating', 'created', 'running', 'stopped', 'paused'];
const signalPattern = /^(?:SIG)?[A-Z][A-Z0-9+-]*$|^[0-9]{1,2}$/;

export function createOciRuntime(
  handler: string,
  config: RuntimeHandlerConfig,
  options: OciRuntimeOptions,
): OciRuntime {
  return new ConmonOciRuntime(handler, config, options);
}

class ConmonOciRuntime implements OciRuntime {
  private readonly invocation: RuntimeInvocation;
  private readonly log: Logger;
  private readonly systemd: boolean;
  private readonly timeoutMs: number;
  private probedFeatures: Promise<HandlerFeatures> | undefined;

  constructor(
    readonly handler: string,
    private readonly config: RuntimeHandlerConfig,
    options: OciRuntimeOptions,
  ) {
    this.log = options.log.child({ runtimeHandler: handler });
    this.systemd = options.cgroupManager === 'systemd';
    this.timeoutMs = options.commandTimeoutMs ?? 120_000;
    const layout = options.cgroupV1View === true ? detectCgroupLayout() : undefined;
    if (layout?.mode === 'hybrid') {
      this.invocation = v1ViewInvocation(config.runtime_path);
      this.log.info(
        { unifiedControllers: layout.unifiedControllers },
        'Runtime runs with a cgroup v1 view of this hybrid host',
      );
    } else {
      this.invocation = { file: config.runtime_path, prefix: [] };
    }
  }

  /** Probed once, on first use: the binary does not change while the daemon runs. */
  features(): Promise<HandlerFeatures> {
    this.probedFeatures ??= probeHandlerFeatures(this.config.runtime_path);
    return this.probedFeatures;
  }

  /** `--root` first, as cri-o does, then the handler's own runtime_args. */
  private get baseArgs(): string[] {
    return [`--root=${this.config.runtime_root}`, ...this.config.runtime_args];
  }

  private run(args: string[], signal?: AbortSignal): Promise<CommandResult> {
    const global = [...this.baseArgs, ...(this.systemd ? ['--systemd-cgroup'] : [])];
    return runCommand(this.invocation.file, [...this.invocation.prefix, ...global, ...args], {
      timeoutMs: this.timeoutMs,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /**
   * Whether the runtime keeps state for `id`: runc and crun both hold a directory per container under their root
   * (state.json, status). Used to tell "does not exist" from a real failure without parsing error text.
   */
  private async known(id: string): Promise<boolean> {
    try {
      await stat(join(this.config.runtime_root, id));
      return true;
    } catch {
      return false;
    }
  }

  private failure(what: string, id: string, result: CommandResult): CriError {
    return internal(`${this.handler} ${what} of container ${id} failed: ${runtimeErrorText(result)}`);
  }

  create(opts: ContainerCreateOptions, signal: AbortSignal): Promise<{ pid: number; monitorPid: number }> {
    return createWithConmon(
      {
        monitorPath: this.config.monitor_path,
        runtime: this.invocation,
        runtimeGlobalArgs: this.baseArgs,
        systemd: this.systemd,
        log: this.log,
        forceDelete: (id) => this.delete(id, true),
      },
      opts,
      signal,
    );
  }

  async update(id: string, r: SpecResources, signal: AbortSignal): Promise<void> {
    assertContainerId(id);
    const flags: [string, string | number | undefined][] = [
      ['--cpu-share', r.cpuShares],
      ['--cpu-quota', r.cpuQuota],
      ['--cpu-period', r.cpuPeriod],
      ['--cpuset-cpus', r.cpusetCpus],
      ['--cpuset-mems', r.cpusetMems],
      ['--memory', r.memoryLimit],
      ['--memory-swap', r.memorySwap],
      ['--pids-limit', r.pidsLimit],
    ];
    const args = flags.flatMap(([flag, value]) => (value === undefined ? [] : [`${flag}=${String(value)}`]));
    if (args.length === 0) return;
    const result = await this.run(['update', ...args, id], signal);
    if (result.code !== 0) throw this.failure('update', id, result);
  }

  execSync(id: string, cmd: string[], options: ExecSyncOptions, signal: AbortSignal): Promise<ExecSyncResult> {
    assertContainerId(id);
    return execInContainer(
      this.invocation,
      [...this.baseArgs, ...(this.systemd ? ['--systemd-cgroup'] : [])],
      id,
      cmd,
      options,
      signal,
    );
  }

  async start(id: string, signal: AbortSignal): Promise<void> {
    assertContainerId(id);
    const result = await this.run(['start', id], signal);
    if (result.code === 0) return;
    if (!(await this.known(id))) throw notFound(`container ${id} is not known to runtime ${this.handler}`);
    throw this.failure('start', id, result);
  }

  async kill(id: string, signal: string, all: boolean): Promise<void> {
    assertContainerId(id);
    if (!signalPattern.test(signal))
      throw invalidArgument(`invalid signal ${JSON.stringify(signal)} for container ${id}`);
    const result = await this.run(['kill', ...(all ? ['--all'] : []), id, signal]);
    if (result.code === 0) return;
    // Signalling a container that already stopped (or is gone) is not an error here: stop and remove race exits.
    const current = await this.state(id);
    if (current === undefined || current.status === 'stopped') return;
    throw this.failure(`kill ${signal}`, id, result);
  }

  async delete(id: string, force: boolean): Promise<void> {
    assertContainerId(id);
    const result = await this.run(['delete', ...(force ? ['--force'] : []), id]);
    if (result.code === 0 || !(await this.known(id))) return;
    if (!force) {
      const current = await this.state(id).catch(() => undefined);
      if (current !== undefined && current.status !== 'stopped') {
        throw failedPrecondition(`container ${id} is ${current.status}; stop it before deleting it`);
      }
    }
    throw this.failure('delete', id, result);
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    assertContainerId(id);
    const result = await this.run(['state', id]);
    if (result.code !== 0) {
      if (!(await this.known(id))) return undefined;
      throw this.failure('state', id, result);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.stdout);
    } catch {
      throw internal(`${this.handler} state of container ${id} is not JSON: ${result.stdout.slice(0, 200)}`);
    }
    const s = parsed as Partial<Record<'id' | 'status' | 'bundle', unknown>> & { pid?: unknown };
    if (typeof s.status !== 'string' || !(statuses as readonly string[]).includes(s.status)) {
      throw internal(`${this.handler} reports unknown status ${JSON.stringify(s.status)} for container ${id}`);
    }
    return {
      id: typeof s.id === 'string' ? s.id : id,
      status: s.status as RuntimeStatus,
      pid: typeof s.pid === 'number' ? s.pid : 0,
      bundle: typeof s.bundle === 'string' ? s.bundle : '',
    };
  }

  async stop(
    id: string,
    pid: number,
    stopSignal: string,
    timeoutSeconds: number,
    signal: AbortSignal,
  ): Promise<void> {
    assertContainerId(id);
    const proc = await readProcStat(pid);
    if (proc === undefined || proc.state === 'Z') return;
    const log = this.log.child({ container: id, pid });
    // A frozen container would hold the signal until thawed (cri-o resumes first, too).
    if ((await this.state(id))?.status === 'paused') {
      const resumed = await this.run(['resume', id], signal);
      if (resumed.code !== 0)
        log.warn({ error: runtimeErrorText(resumed) }, 'Cannot resume a paused container to stop it');
    }
    await this.kill(id, stopSignal, false);
    if (timeoutSeconds > 0 && (await waitForProcessExit(pid, proc.startTime, timeoutSeconds * 1000, signal)))
      return;
    log.info({ stopSignal, timeoutSeconds }, 'Container did not stop in time; killing it');
    // Keep killing with a growing pause until it is gone: a process in uninterruptible sleep takes its time.
    for (let wait = 100; ; wait = Math.min(wait * 2, 5000)) {
      await this.kill(id, 'KILL', false);
      if (await waitForProcessExit(pid, proc.startTime, wait, signal)) return;
      if ((await this.state(id)) === undefined) {
        // The runtime forgot it but the process lives on (its state was deleted underneath us): the pid is still
        // the one we were given (start time checked), so signal it directly.
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
      if (wait >= 5000) log.warn('Container still running after SIGKILL');
    }
  }
}
