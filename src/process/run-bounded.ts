import { spawn } from 'node:child_process';
import { abortError, CriError, internal } from '../errors/errors.js';

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to the program's stdin, which is then closed (at once, without input). */
  input?: string;
  /** Output kept per stream; the rest is read and dropped so the program never blocks on a full pipe. */
  outputCap: number;
  /** The DeadlineExceeded message when the timeout kills the program. */
  timeoutMessage: string;
  /** How errors name the program (default: its path). */
  name?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a helper program (a runtime, a CNI plugin, mount, unshare) to completion with capped output. A non-zero
 * exit is a result, not an error: callers decide what it means. On timeout or abort the program is killed and the
 * call rejects with DeadlineExceeded or the abort reason as soon as it has exited, even if a child of it still
 * holds the pipes open.
 */
export function runBounded(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const { signal } = options;
  if (signal?.aborted === true) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let stopped: CriError | undefined;
    let exited = false;
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const abandon = (why: CriError): void => {
      finish();
      child.stdout.destroy();
      child.stderr.destroy();
      reject(why);
    };
    const stop = (why: CriError): void => {
      stopped ??= why;
      if (exited) abandon(stopped);
      else child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => stop(new CriError('DeadlineExceeded', options.timeoutMessage)),
      options.timeoutMs,
    );
    const onAbort = (): void => {
      if (signal !== undefined) stop(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes < options.outputCap) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes < options.outputCap) err.push(chunk);
      errBytes += chunk.length;
    });
    // A program may exit without reading its input; the broken pipe is not the error worth reporting.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
    child.on('error', (e) => {
      finish();
      reject(internal(`cannot run ${options.name ?? file}: ${e.message}`, e));
    });
    // After a kill, the exit is the end: a child of the program may hold the pipes open indefinitely.
    child.on('exit', () => {
      exited = true;
      if (stopped !== undefined) abandon(stopped);
    });
    // Otherwise 'close', not 'exit': all output is read once every holder of the pipes has gone.
    child.on('close', (code, sig) => {
      finish();
      if (stopped !== undefined) {
        reject(stopped);
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
