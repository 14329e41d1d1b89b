import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriError, abortError, internal } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';
import { assertContainerId } from './container-id.js';
import { conmonArgs, conmonLogLevel, conmonPidFile, containerPidFile } from './conmon-args.js';
import { parseSyncMessage, readSyncLine } from './conmon-sync.js';
import { readProcStat } from './proc-stat.js';
import { runtimeEnv, type RuntimeInvocation } from './runtime-command.js';
import type { ContainerCreateOptions } from './runtime-types.js';

export interface ConmonCreateContext {
  monitorPath: string;
  runtime: RuntimeInvocation;
  /** The runtime's global options (`--root=…`, runtime_args), passed to conmon as `--runtime-arg`s. */
  runtimeGlobalArgs: string[];
  systemd: boolean;
  log: Logger;
  /** `runtime delete --force <id>`: the clean-up after a failed create. */
  forceDelete: (id: string) => Promise<void>;
}

export const defaultCreateTimeoutMs = 240_000;

/** Rejects with `reason()` as soon as `signal` fires; otherwise settles like `p`. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, reason: () => Error): Promise<T> {
  // Whatever `p` does after we stopped waiting for it must not become an unhandled rejection.
  p.catch(() => undefined);
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(reason());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a conmon monitoring container `id` (guards every kill against pid reuse). */
async function isConmonFor(pid: number, id: string): Promise<boolean> {
  try {
    const argv = (await readFile(`/proc/${String(pid)}/cmdline`, 'utf8')).split('\0');
    const c = argv.indexOf('-c');
    return c >= 0 && argv[c + 1] === id;
  } catch {
    return false;
  }
}

/** Collects a child's stdout and stderr (bounded) for error messages. */
function collectOutput(child: ChildProcess): { text: () => string; ended: Promise<void> } {
  const parts: Buffer[] = [];
  let size = 0;
  const ends: Promise<void>[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    stream.on('data', (b: Buffer) => {
      if (size < 64 * 1024) parts.push(b);
      size += b.length;
    });
    ends.push(
      new Promise((resolve) => {
        stream.once('close', resolve);
        stream.once('end', resolve);
      }),
    );
  }
  return {
    text: () => Buffer.concat(parts).toString('utf8').trim(),
    ended: Promise.all(ends).then(() => undefined),
  };
}

/**
 * Starts `runtime create` under a new conmon, the way cri-o does (internal/oci/runtime_oci.go CreateContainer):
 *
 * 1. spawn conmon with the sync pipe as fd 3 (`_OCI_SYNCPIPE=3`) and the start pipe as fd 4 (`_OCI_STARTPIPE=4`),
 *    in its own session (`detached`), cwd = bundle (conmon also drops its `oom` marker there);
 * 2. conmon blocks reading the start pipe: `placeMonitor` may move it into a cgroup now, then we write one byte;
 * 3. conmon forks; the parent writes the child's pid to the conmon pidfile and exits 0 — we wait for that exit.
 *    The child calls setsid() and reparents to init (or the nearest subreaper), so it outlives the daemon;
 * 4. the child runs `runtime create` and reports `{"pid": N}` on the sync pipe once the runtime wrote the pidfile,
 *    or `{"pid": -1, "message": "<runtime stderr>"}` when create failed.
 *
 * On any failure (including timeout and abort) conmon is killed, `runtime delete --force` runs, and the attach
 * symlink, log and exit files that conmon may have written are removed, so nothing of the attempt remains.
 */
export async function createWithConmon(
  ctx: ConmonCreateContext,
  opts: ContainerCreateOptions,
  signal: AbortSignal,
): Promise<{ pid: number; monitorPid: number }> {
  assertContainerId(opts.id);
  if (signal.aborted) throw abortError(signal);
  const timeoutMs = opts.createTimeoutMs ?? defaultCreateTimeoutMs;
  const deadline = AbortSignal.timeout(timeoutMs);
  const stopped = AbortSignal.any([signal, deadline]);
  const whyStopped = (): CriError =>
    signal.aborted
      ? abortError(signal)
      : new CriError('DeadlineExceeded', `creating container ${opts.id} timed out after ${timeoutMs} ms`);

  // conmon creates none of these itself (it writes files into them), and a stale pidfile from an earlier attempt
  // with this bundle would be taken for this one's.
  await Promise.all(
    [opts.exitDir, opts.persistDir, opts.socketDir, dirname(opts.logPath)].map((d) =>
      mkdir(d, { recursive: true }),
    ),
  );
  await Promise.all([
    rm(conmonPidFile(opts.bundle), { force: true }),
    rm(containerPidFile(opts.bundle), { force: true }),
  ]);

  const args = conmonArgs({
    opts,
    runtime: ctx.runtime,
    runtimeGlobalArgs: ctx.runtimeGlobalArgs,
    systemd: ctx.systemd,
    logLevel: conmonLogLevel(ctx.log.level),
  });
  const log = ctx.log.child({ container: opts.id });
  log.debug({ monitor: ctx.monitorPath, args }, 'Starting conmon');

  const child = spawn(ctx.monitorPath, args, {
    cwd: opts.bundle,
    env: runtimeEnv({ _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' }),
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    // Own session and process group: a signal to the daemon's group (Ctrl-C in a terminal) never reaches the
    // monitor, and conmon's own setsid() after its fork finishes the detachment. Under systemd conmon must also
    // leave the daemon's cgroup (placeMonitor), or a KillMode=control-group stop takes it along.
    detached: true,
  });
  const syncStream = child.stdio[3] as Readable;
  const startStream = child.stdio[4] as Writable;
  const output = collectOutput(child);
  const syncLine = readSyncLine(syncStream);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, sig) => {
      resolve({ code, signal: sig });
    });
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    // `on`, not `once`: a later error (a failed kill) must not go unhandled; rejecting twice is a no-op.
    child.on('error', (e) => {
      reject(internal(`cannot run conmon ${ctx.monitorPath} for container ${opts.id}: ${e.message}`, e));
    });
  });
  // Errors on the pipes (EPIPE when conmon died early) surface through exit status and sync EOF instead.
  syncStream.on('error', () => undefined);
  startStream.on('error', () => undefined);

  let monitorPid: number | undefined;
  try {
    await untilAborted(spawned, stopped, whyStopped);
    if (opts.placeMonitor !== undefined && child.pid !== undefined) {
      await untilAborted(opts.placeMonitor(child.pid), stopped, whyStopped);
    }
    if (stopped.aborted) throw whyStopped();
    startStream.end(Buffer.from([0]));

    const first = await untilAborted(exited, stopped, whyStopped);
    if (first.code !== 0) {
      await Promise.race([output.ended, sleep(500)]);
      const why =
        output.text() ||
        (first.signal !== null ? `killed by ${first.signal}` : `exit status ${String(first.code)}`);
      throw internal(`conmon failed to create container ${opts.id}: ${why}`);
    }
    monitorPid = await readPidFile(conmonPidFile(opts.bundle));
    if (monitorPid === undefined) throw internal(`conmon for container ${opts.id} wrote no pid to its pidfile`);

    const line = await untilAborted(syncLine, stopped, whyStopped);
    const message = line === undefined ? undefined : parseSyncMessage(line);
    if (message === undefined) {
      // conmon reports only what the runtime printed: a runtime that could not even be executed prints nothing.
      throw internal(
        `container ${opts.id} create failed: conmon exited without reporting a pid` +
          (line === undefined
            ? ` (the runtime ${ctx.runtime.file} printed no error; is it there and runnable?)`
            : ` (it wrote ${JSON.stringify(line.slice(0, 200))})`),
      );
    }
    if (message.pid <= 0) {
      const why = message.message?.trim() ?? '';
      throw internal(
        `container ${opts.id} create failed: ${why === '' ? 'the runtime failed without a message' : why}`,
      );
    }
    log.debug({ pid: message.pid, monitorPid }, 'Container created');
    return { pid: message.pid, monitorPid };
  } catch (err) {
    monitorPid ??= await readPidFile(conmonPidFile(opts.bundle));
    await cleanUpFailedCreate(ctx, opts, child, monitorPid, log);
    throw err;
  } finally {
    syncStream.destroy();
    startStream.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
}

async function cleanUpFailedCreate(
  ctx: ConmonCreateContext,
  opts: ContainerCreateOptions,
  child: ChildProcess,
  monitorPid: number | undefined,
  log: Logger,
): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (monitorPid !== undefined && (await isConmonFor(monitorPid, opts.id))) {
    // After reporting pid -1 conmon exits by itself; give it a moment, then make sure. Killing it before the
    // delete below also keeps it from writing an exit file for a container that never was.
    for (let i = 0; i < 20 && (await conmonRunning(monitorPid, opts.id)); i++) await sleep(25);
    if (await conmonRunning(monitorPid, opts.id)) {
      try {
        process.kill(monitorPid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      for (let i = 0; i < 100 && (await conmonRunning(monitorPid, opts.id)); i++) await sleep(20);
    }
  }
  try {
    await ctx.forceDelete(opts.id);
  } catch (err) {
    log.warn({ err }, 'Cannot delete the runtime state of a container that failed to create');
  }
  const attachLink = join(opts.socketDir, opts.id);
  try {
    if ((await lstat(attachLink)).isSymbolicLink()) await rm(attachLink);
  } catch {
    // Not there.
  }
  await Promise.all([
    rm(opts.logPath, { force: true }),
    rm(join(opts.exitDir, opts.id), { force: true }),
    rm(join(opts.persistDir, 'exit'), { force: true }),
  ]);
}

async function conmonRunning(pid: number, id: string): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && (await isConmonFor(pid, id));
}
