import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { diskUsage } from './disk-usage.js';

const dir = await mkdtemp(join(tmpdir(), 'cri-ts-du-'));
after(() => rm(dir, { recursive: true, force: true }));
const signal = new AbortController().signal;

describe('diskUsage', () => {
  it('counts allocated bytes and inodes, hard links once, symlinks not followed', async () => {
    const empty = await diskUsage(dir, signal);
    assert.equal(empty.inodes, 1n);
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'data'), Buffer.alloc(1024 * 1024, 1));
    await link(join(dir, 'sub', 'data'), join(dir, 'hardlink'));
    await symlink('/usr', join(dir, 'to-usr'));
    const full = await diskUsage(dir, signal);
    assert.equal(full.inodes, 4n, 'root, sub, data (linked twice), symlink');
    assert.ok(full.bytes - empty.bytes >= 1024n * 1024n, `grew by ${String(full.bytes - empty.bytes)}`);
    assert.ok(full.bytes - empty.bytes < 3n * 1024n * 1024n, 'the hard link is not counted twice');
  });

  it('counts a sparse file by its allocated blocks', async () => {
    const before = await diskUsage(dir, signal);
    await writeFile(join(dir, 'sparse'), '');
    await truncate(join(dir, 'sparse'), 1024 * 1024 * 1024);
    const afterSparse = await diskUsage(dir, signal);
    assert.ok(afterSparse.bytes - before.bytes < 1024n * 1024n);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(diskUsage(dir, ac.signal), { kind: 'Canceled' });
  });
});
