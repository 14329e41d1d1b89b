import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { ContentStore, sha256Digest } from './content-store.js';

const dir = await mkdtemp(join(tmpdir(), 'cri-ts-content-'));
after(() => rm(dir, { recursive: true, force: true }));
const never = new AbortController().signal;

function chunks(data: Buffer, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

describe('ContentStore', () => {
  const store = new ContentStore(dir);
  const data = Buffer.from('x'.repeat(10_000));
  const digest = sha256Digest(data);

  it('stores a downloaded blob under its digest after verifying it', async () => {
    await store.init();
    await store.ensure(digest, data.length, () => Promise.resolve(chunks(data)), never);
    assert.ok(await store.has(digest));
    assert.deepEqual(await readFile(store.blobPath(digest)), data);
    assert.deepEqual(await store.list(), [digest]);
  });

  it('downloads once for concurrent callers and not at all when present', async () => {
    const other = Buffer.from('y'.repeat(5000));
    const d = sha256Digest(other);
    let fetches = 0;
    const fetch = (): Promise<Readable> => {
      fetches += 1;
      return Promise.resolve(chunks(other));
    };
    await Promise.all([store.ensure(d, other.length, fetch, never), store.ensure(d, other.length, fetch, never)]);
    await store.ensure(d, other.length, fetch, never);
    assert.equal(fetches, 1);
  });

  it('refuses wrong content, wrong size and oversize, leaving nothing behind', async () => {
    const wrong = Buffer.from('tampered'.repeat(100));
    const d = `sha256:${createHash('sha256').update('expected').digest('hex')}`;
    await assert.rejects(
      store.ensure(d, wrong.length, () => Promise.resolve(chunks(wrong)), never),
      /arrived with digest/,
    );
    await assert.rejects(
      store.ensure(digest.replace(/.$/, '0'), 5, () => Promise.resolve(chunks(data)), never),
      /larger than its declared/,
    );
    const short = sha256Digest(data.subarray(0, 10));
    await assert.rejects(
      store.ensure(short, 20, () => Promise.resolve(chunks(data.subarray(0, 10))), never),
      /has 10 bytes, expected 20/,
    );
    assert.equal(await store.has(d), false);
    assert.equal(await store.has(short), false);
    assert.deepEqual(await readdir(join(dir, 'ingest')), [], 'no partial downloads remain');
  });

  it('stops a download when aborted', async () => {
    const big = Buffer.alloc(1 << 20, 1);
    const ac = new AbortController();
    const slow = new Readable({ read() {} });
    slow.push(big.subarray(0, 1000));
    const p = store.ensure(sha256Digest(big), big.length, () => Promise.resolve(slow), ac.signal);
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, { kind: 'Canceled' });
    assert.equal(await store.has(sha256Digest(big)), false);
  });

  it('puts small verified content and refuses a mismatch', async () => {
    const body = Buffer.from('{"a":1}');
    await store.put(sha256Digest(body), body);
    assert.deepEqual(await store.read(sha256Digest(body)), body);
    await assert.rejects(store.put(sha256Digest(Buffer.from('other')), body), /does not match/);
    assert.throws(() => store.blobPath('sha256:../../etc'), { kind: 'InvalidArgument' });
  });
});
