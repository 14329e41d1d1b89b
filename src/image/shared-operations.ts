import { abortError } from '../errors/errors.js';

interface Operation<T> {
  promise: Promise<T>;
  waiters: number;
  controller: AbortController;
}

/**
 * Runs one operation per key however many callers ask for it (one pull per image, one download per blob).
 * Each caller waits with its own signal and gets its own abort error when that fires; the shared work is
 * aborted only when every caller has gone, so one impatient client never breaks another's pull.
 */
export class SharedOperations<T> {
  private readonly running = new Map<string, Operation<T>>();

  get size(): number {
    return this.running.size;
  }

  isRunning(key: string): boolean {
    return this.running.has(key);
  }

  run(key: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    let op = this.running.get(key);
    if (op === undefined) {
      const controller = new AbortController();
      const created: Operation<T> = {
        controller,
        waiters: 0,
        // Started on the next tick so `created` is registered before work can finish synchronously.
        promise: Promise.resolve()
          .then(() => work(controller.signal))
          .finally(() => {
            if (this.running.get(key) === created) this.running.delete(key);
          }),
      };
      // The shared promise may reject after every waiter left: that rejection is nobody's to handle.
      created.promise.catch(() => undefined);
      this.running.set(key, created);
      op = created;
    }
    const shared = op;
    shared.waiters += 1;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const leave = (): void => {
        signal.removeEventListener('abort', onAbort);
        shared.waiters -= 1;
        if (shared.waiters === 0 && this.running.get(key) === shared) {
          // Abandoned: a caller arriving now starts afresh instead of joining work that is being cancelled.
          this.running.delete(key);
          shared.controller.abort(abortError(signal));
        }
      };
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        leave();
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      shared.promise.then(
        (value) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          shared.waiters -= 1;
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          shared.waiters -= 1;
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}
