import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ImageStore, type ImageRecord } from './image-store.js';

const dir = await mkdtemp(join(tmpdir(), 'cri-ts-imgstore-'));
after(() => rm(dir, { recursive: true, force: true }));

function image(id: string, tags: string[], digests: string[] = []): ImageRecord {
  return {
    id,
    repoTags: tags,
    repoDigests: digests,
    manifestDigest: `sha256:${'m'.repeat(64)}`,
    manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    layers: [],
    size: 1,
    user: '',
    pinned: false,
    pulledAt: '2026-01-01T00:00:00Z',
    annotations: {},
  };
}

describe('ImageStore', () => {
  it('merges names into a known image, moves a tag, and persists across reloads', async () => {
    const file = join(dir, 'a.json');
    const store = new ImageStore(file);
    await store.load();
    await store.save(image('sha256:1', ['r/a:1']));
    await store.save(image('sha256:1', ['r/a:2'], ['r/a@sha256:x']));
    await store.save(image('sha256:2', ['r/a:2']));
    assert.deepEqual(store.get('sha256:1')?.repoTags, ['r/a:1']);
    assert.deepEqual(store.get('sha256:1')?.repoDigests, ['r/a@sha256:x']);
    assert.equal(store.byTag('r/a:2')?.id, 'sha256:2');
    assert.equal(store.byRepoDigest('r/a@sha256:x')?.id, 'sha256:1');

    const reloaded = new ImageStore(file);
    await reloaded.load();
    assert.deepEqual(
      reloaded
        .list()
        .map((i) => [i.id, i.repoTags])
        .sort(),
      [
        ['sha256:1', ['r/a:1']],
        ['sha256:2', ['r/a:2']],
      ],
    );
    assert.equal(await reloaded.remove('sha256:1'), true);
    assert.equal(await reloaded.remove('sha256:1'), false);
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.endsWith('.tmp')),
      [],
      'no temp files left',
    );
  });

  it('finds images by id prefix', async () => {
    const store = new ImageStore(join(dir, 'b.json'));
    await store.save(image(`sha256:ab${'1'.repeat(62)}`, []));
    await store.save(image(`sha256:ac${'1'.repeat(62)}`, []));
    assert.equal(store.byIdPrefix('ab').length, 1);
    assert.equal(store.byIdPrefix('sha256:a').length, 2);
  });

  it('keeps memory unchanged when the write fails', async () => {
    const store = new ImageStore(join(dir, 'missing-dir', 'c.json'));
    await assert.rejects(store.save(image('sha256:3', ['r/x:1'])));
    assert.equal(store.get('sha256:3'), undefined);
    // The failed change does not poison the queue.
    await assert.rejects(store.save(image('sha256:4', [])), { code: 'ENOENT' });
  });
});
