import { abortError } from '../errors/errors.js';

/**
 * One lock per object id (never one global lock): calls for the same sandbox run one after another, calls for
 * different sandboxes interleave freely. Waiting honours the caller's AbortSignal.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    let onAbort: (() => void) | undefined;
    try {
      await (signal === undefined
        ? previous
        : Promise.race([
            previous,
            new Promise<never>((_resolve, reject) => {
              onAbort = () => reject(abortError(signal));
              if (signal.aborted) onAbort();
              else signal.addEventListener('abort', onAbort, { once: true });
            }),
          ]));
      return await work();
    } finally {
      if (signal !== undefined && onAbort !== undefined) signal.removeEventListener('abort', onAbort);
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
