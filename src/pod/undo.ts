import { abortError } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';

/** One step of a creation to take back if a later step fails. */
export type Undo = { what: string; run: () => Promise<void> };

/** Runs the undo steps newest first; a failing step is logged and the rest still run. */
export async function rollback(undo: Undo[], log: Logger): Promise<void> {
  for (const step of undo.reverse()) {
    try {
      await step.run();
    } catch (err) {
      log.error({ err, step: step.what }, 'Rollback step failed; it may leave resources behind');
    }
  }
}

/** Waits for `work` unless `signal` fires first; the work itself goes on (and is parked for a retry). */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
