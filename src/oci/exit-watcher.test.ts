import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { ExitWatcher, oomKilled, readExit, readExitCode } from './exit-watcher.js';

const dir = await mkdtemp(join(tmpdir(), 'cri-ts-exits-'));
after(() => rm(dir, { recursive: true, force: true }));
const log = pino({ level: 'silent' });

/** conmon's way: g_file_set_contents writes `<id>.XXXXXX`, then renames it over `<id>`. */
async function writeLikeConmon(exitDir: string, id: string, code: string): Promise<void> {
  const tmp = join(exitDir, `${id}.AB12CD`);
  await writeFile(tmp, code);
  await rename(tmp, join(exitDir, id));
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(10);
  }
}

describe('exit files', () => {
  it('reads codes and finish times, and nothing for missing or odd files', async () => {
    const d = await mkdtemp(join(dir, 'read-'));
    await writeFile(join(d, 'c1'), '137');
    await writeFile(join(d, 'c2'), '-1');
    await writeFile(join(d, 'c3'), 'nope');
    assert.equal(await readExitCode(d, 'c1'), 137);
    assert.equal(await readExitCode(d, 'c2'), -1);
    assert.equal(await readExitCode(d, 'c3'), undefined);
    assert.equal(await readExitCode(d, 'missing'), undefined);
    assert.equal(await readExitCode(d, '../etc'), undefined);
    assert.ok((await readExit(d, 'c1'))?.finishedAt instanceof Date);
  });

  it('tells whether conmon left an oom marker', async () => {
    const d = await mkdtemp(join(dir, 'oom-'));
    assert.equal(await oomKilled(d), false);
    await writeFile(join(d, 'oom'), '');
    assert.equal(await oomKilled(d), true);
  });
});

describe('ExitWatcher', () => {
  it('reports exits from before it started and new ones, each once', async () => {
    const d = await mkdtemp(join(dir, 'watch-'));
    await writeFile(join(d, 'early'), '0');
    const seen: [string, number][] = [];
    const watcher = new ExitWatcher(
      d,
      (id, code) => {
        seen.push([id, code]);
      },
      log,
    );
    await watcher.start();
    try {
      assert.deepEqual(seen, [['early', 0]]);
      await writeLikeConmon(d, 'late', '143');
      await until(() => seen.length === 2);
      assert.deepEqual(seen[1], ['late', 143]);
      // Touching the file again or rescanning does not report it twice.
      await writeFile(join(d, 'late'), '143');
      await watcher.rescan();
      await sleep(50);
      await watcher.idle();
      assert.equal(seen.length, 2);
      assert.ok(!seen.some(([id]) => id.includes('.')), 'temporary files are not exits');
    } finally {
      watcher.close();
    }
  });

  it('reports an id again after its file was removed and written anew', async () => {
    const d = await mkdtemp(join(dir, 'again-'));
    const seen: string[] = [];
    const watcher = new ExitWatcher(
      d,
      (id, code) => {
        seen.push(`${id}=${String(code)}`);
      },
      log,
    );
    await watcher.start();
    try {
      await writeLikeConmon(d, 'c', '1');
      await until(() => seen.length === 1);
      await rm(join(d, 'c'));
      await sleep(50);
      await watcher.idle();
      await writeLikeConmon(d, 'c', '2');
      await until(() => seen.length === 2);
      assert.deepEqual(seen, ['c=1', 'c=2']);
    } finally {
      watcher.close();
    }
  });

  it('retries a failed handler on the next rescan', async () => {
    const d = await mkdtemp(join(dir, 'retry-'));
    await writeFile(join(d, 'c'), '3');
    let calls = 0;
    const watcher = new ExitWatcher(
      d,
      () => {
        calls += 1;
        if (calls === 1) throw new Error('store unavailable');
      },
      log,
    );
    await watcher.start();
    try {
      assert.equal(calls, 1);
      await watcher.rescan();
      assert.equal(calls, 2);
      await watcher.rescan();
      assert.equal(calls, 2);
    } finally {
      watcher.close();
    }
  });
});
