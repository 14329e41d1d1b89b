import { runBounded, type RunResult } from '../process/run-bounded.js';

/**
 * How to run the OCI runtime binary: `file prefix… <global args> <command> …`. Usually just the runtime's path;
 * on hybrid cgroup hosts a runtime that refuses hybrid mode runs behind a mount-namespace wrapper (cgroup-view.ts).
 */
export interface RuntimeInvocation {
  file: string;
  prefix: string[];
}

export type CommandResult = RunResult;

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
  return runBounded(file, args, {
    timeoutMs: options.timeoutMs,
    env: options.env ?? runtimeEnv(),
    outputCap: maxOutput,
    timeoutMessage: `${file} ${args.join(' ')} timed out after ${options.timeoutMs} ms`,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
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
