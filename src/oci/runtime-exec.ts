import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abortError } from '../errors/errors.js';
import { runtimeEnv, type RuntimeInvocation } from './runtime-command.js';

export interface ExecSyncOptions {
  /** 0 means no timeout. */
  timeoutMs: number;
  /** Each stream is kept up to this many bytes; the rest is read and dropped (CVE-2022-1708). */
  maxOutputBytes: number;
  /**
   * The container's bundle: the exec'd process then gets the container's own user, groups, cwd, env and
   * capabilities from its config.json, as cri-o does. crun's exec, unlike runc's, does not inherit them.
   */
  bundle?: string;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
  timedOut: boolean;
}

/** Collects a stream up to a cap, draining the rest so the process never blocks on a full pipe. */
function capped(max: number): { push: (b: Buffer) => void; value: () => Buffer } {
  const parts: Buffer[] = [];
  let size = 0;
  return {
    push: (b) => {
      if (size >= max) return;
      const room = max - size;
      parts.push(b.length > room ? b.subarray(0, room) : b);
      size += Math.min(b.length, room);
    },
    value: () => Buffer.concat(parts),
  };
}

/**
 * `runtime exec` of a command in a running container, to completion. On timeout the exec'd process itself is
 * killed (its pid comes from --pid-file): killing only the runtime's exec process would leave it running inside
 * the container, which is exactly the leftover probe process kubelet users hit.
 */
export async function execInContainer(
  runtime: RuntimeInvocation,
  globalArgs: string[],
  id: string,
  cmd: string[],
  options: ExecSyncOptions,
  signal: AbortSignal,
): Promise<ExecSyncResult> {
  if (signal.aborted) throw abortError(signal);
  const scratch = join(tmpdir(), `cri-ts-exec-${randomBytes(8).toString('hex')}`);
  const pidFile = `${scratch}.pid`;
  const processFile = `${scratch}.process.json`;
  let target = [id, ...cmd];
  if (options.bundle !== undefined) {
    const spec = JSON.parse(await readFile(join(options.bundle, 'config.json'), 'utf8')) as {
      process?: Record<string, unknown>;
    };
    await writeFile(processFile, JSON.stringify({ ...spec.process, args: cmd, terminal: false }), { mode: 0o600 });
    target = ['--process', processFile, id];
  }
  const child = spawn(runtime.file, [...runtime.prefix, ...globalArgs, 'exec', '--pid-file', pidFile, ...target], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: runtimeEnv(),
  });
  const out = capped(options.maxOutputBytes);
  const err = capped(options.maxOutputBytes);
  child.stdout.on('data', out.push);
  child.stderr.on('data', err.push);
  // Set from timer and abort callbacks, read after the process closed.
  const ended = { timedOut: false, aborted: false };
  // Kill the exec'd process and let `runtime exec`, its parent, reap it: killing the parent too would leave a
  // zombie for the host's init to collect, visible inside the container meanwhile. The parent is killed only if
  // it does not finish on its own.
  let parentTimer: NodeJS.Timeout | undefined;
  const killExecd = async (): Promise<void> => {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    parentTimer ??= setTimeout(() => child.kill('SIGKILL'), pid > 1 ? 2000 : 0);
  };
  const timer =
    options.timeoutMs > 0
      ? setTimeout(() => {
          ended.timedOut = true;
          void killExecd();
        }, options.timeoutMs)
      : undefined;
  const onAbort = (): void => {
    ended.aborted = true;
    void killExecd();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, sig) => resolve(c ?? (sig === null ? -1 : 128 + 9)));
    });
    if (ended.aborted) throw abortError(signal);
    return { stdout: out.value(), stderr: err.value(), exitCode: code, timedOut: ended.timedOut };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (parentTimer !== undefined) clearTimeout(parentTimer);
    signal.removeEventListener('abort', onAbort);
    await rm(pidFile, { force: true });
    await rm(processFile, { force: true });
  }
}
