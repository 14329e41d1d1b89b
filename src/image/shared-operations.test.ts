import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CriError } from '../errors/errors.js';
import { SharedOperations } from './shared-operations.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve: (v: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('SharedOperations', () => {
  it('runs one operation per key for concurrent callers', async () => {
    const ops = new SharedOperations<number>();
    let runs = 0;
    const gate = deferred<number>();
    const work = async (): Promise<number> => {
      runs += 1;
      return gate.promise;
    };
    const a = ops.run('k', new AbortController().signal, work);
    const b = ops.run('k', new AbortController().signal, work);
    gate.resolve(7);
    assert.deepEqual(await Promise.all([a, b]), [7, 7]);
    assert.equal(runs, 1);
    assert.equal(ops.size, 0);
  });

  it('lets one caller go without cancelling the work the others wait for', async () => {
    const ops = new SharedOperations<string>();
    const gate = deferred<string>();
    let sharedSignal: AbortSignal | undefined;
    const impatient = new AbortController();
    const a = ops.run('k', impatient.signal, (s) => {
      sharedSignal = s;
      return gate.promise;
    });
    const b = ops.run('k', new AbortController().signal, () => Promise.resolve('never runs'));
    impatient.abort(new CriError('DeadlineExceeded', 'too slow'));
    await assert.rejects(a, { kind: 'DeadlineExceeded' });
    assert.equal(sharedSignal?.aborted, false);
    gate.resolve('done');
    assert.equal(await b, 'done');
  });

  it('aborts the work when every caller has gone, and starts afresh for the next', async () => {
    const ops = new SharedOperations<string>();
    let sharedSignal: AbortSignal | undefined;
    const c1 = new AbortController();
    const a = ops.run('k', c1.signal, (s) => {
      sharedSignal = s;
      return new Promise<string>((_resolve, reject) =>
        s.addEventListener('abort', () => reject(new Error('stopped'))),
      );
    });
    await new Promise((r) => setImmediate(r));
    c1.abort(new CriError('Canceled', 'bye'));
    await assert.rejects(a, { kind: 'Canceled' });
    assert.equal(sharedSignal?.aborted, true);
    assert.equal(await ops.run('k', new AbortController().signal, () => Promise.resolve('fresh')), 'fresh');
  });

  it('passes the work error to every caller', async () => {
    const ops = new SharedOperations<void>();
    const work = (): Promise<void> => Promise.reject(new CriError('NotFound', 'no such blob'));
    const results = await Promise.allSettled([
      ops.run('k', new AbortController().signal, work),
      ops.run('k', new AbortController().signal, work),
    ]);
    assert.deepEqual(
      results.map((r) => r.status === 'rejected' && (r.reason as CriError).kind),
      ['NotFound', 'NotFound'],
    );
  });
});
