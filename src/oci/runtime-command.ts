import { spawn } from 'node:child_process';
import { CriError, abortError } from '../errors/errors.js';

/**
 * How to run the OCI runtime binary: `file prefix… <global args> <command> …`. Usually just the runtime's path;
 * on hybrid cgroup hosts a runtime that refuses hybrid mode runs behind a mount-namespace wrapper (cgroup-view.ts).
 */
export interface RuntimeInvocation {
  file: string;
  prefix: string[];
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Output beyond this is dropped: runtimes print small JSON or one error line; a flood must not grow the heap. */
const maxOutput = 1 << 20;

/**
 * The environment for the runtime and conmon: only what they need, never the daemon's own variables (cri-o does
 * the same, so a NOTIFY_SOCKET or LISTEN_FDS meant for us never reaches a container).
 */
export function runtimeEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  };
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg !== undefined) env.XDG_RUNTIME_DIR = xdg;
  return { ...env, ...extra };
}

/**
 * Runs a short command to completion and returns its exit status and output (it does not throw on a non-zero
 * exit: callers decide what a failure means). Killed with SIGKILL on timeout (DeadlineExceeded) or abort.
 */
export function runCommand(
  file: string,
  args: string[],
  options: { timeoutMs: number; signal?: AbortSignal; env?: Record<string, string>; cwd?: string },
): Promise<CommandResult> {
  const { signal } = options;
  if (signal?.aborted === true) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? runtimeEnv(),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < maxOutput) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < maxOutput) err.push(b);
      errLen += b.length;
    });
    let failure: Error | undefined;
    const stop = (why: Error): void => {
      failure ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      stop(new CriError('DeadlineExceeded', `${file} ${args.join(' ')} timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    const onAbort = (): void => {
      if (signal !== undefined) stop(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (e) => {
      done();
      reject(new CriError('Internal', `cannot run ${file}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      done();
      if (failure !== undefined) {
        reject(failure);
        return;
      }
      resolve({
        code,
        signal: sig,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** The most useful line of a runtime's error output: runc logs `msg="…"`, crun plain text. */
export function runtimeErrorText(result: CommandResult): string {
  const text = (result.stderr.trim() || result.stdout.trim()).split('\n').filter((l) => l.trim() !== '');
  const last = text.at(-1) ?? '';
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  if (msg?.[1] !== undefined) return msg[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  if (last !== '') return last;
  return result.signal !== null ? `killed by ${result.signal}` : `exit status ${String(result.code)}`;
}
