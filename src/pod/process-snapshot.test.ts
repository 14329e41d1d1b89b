import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { parsePids, parseSoftOpenFiles, processSnapshot } from './process-snapshot.js';

describe('process snapshot', () => {
  it('parses cgroup.procs and the soft open-files limit', () => {
    assert.deepEqual(parsePids('12\n345\n\n'), [12, 345]);
    assert.deepEqual(parsePids(undefined), []);
    const limits =
      'Limit                     Soft Limit           Hard Limit           Units\n' +
      'Max open files            1024                 524288               files\n';
    assert.equal(parseSoftOpenFiles(limits), 1024n);
    assert.equal(
      parseSoftOpenFiles('Max open files            unlimited            unlimited            files\n'),
      undefined,
    );
  });

  it('counts this process: threads, descriptors and an open listening socket', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const s = await processSnapshot([process.pid, 2 ** 22 + 1], process.pid, AbortSignal.timeout(5000));
      assert.equal(s.processes, 1, 'a pid that does not exist is not counted');
      assert.ok(s.threads >= 2, 'Node runs worker threads');
      assert.ok(s.fileDescriptors >= 4);
      assert.ok(s.sockets >= 1);
      assert.ok(s.maxOpenFilesSoft !== undefined && s.maxOpenFilesSoft > 0n);
    } finally {
      server.close();
    }
  });
});
