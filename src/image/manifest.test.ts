import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  imageUser,
  mediaTypes,
  parseImageConfig,
  parseManifest,
  selectPlatform,
  type ImageIndex,
} from './manifest.js';

const d = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;

describe('parseManifest', () => {
  it('reads OCI and Docker schema 2 manifests', () => {
    for (const mt of [mediaTypes.ociManifest, mediaTypes.dockerManifest]) {
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          config: { mediaType: 'c', digest: d(1), size: 10 },
          layers: [{ mediaType: 'l', digest: d(2), size: 20 }],
        }),
      );
      const m = parseManifest(body, mt, 'x');
      assert.ok(m.kind === 'manifest');
      assert.equal(m.layers[0]?.digest, d(2));
    }
  });

  it('reads indexes with platforms', () => {
    const body = Buffer.from(
      JSON.stringify({
        manifests: [
          {
            mediaType: mediaTypes.ociManifest,
            digest: d(3),
            size: 1,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
        ],
      }),
    );
    const idx = parseManifest(body, mediaTypes.dockerList, 'x');
    assert.deepEqual(idx, {
      kind: 'index',
      manifests: [
        {
          mediaType: mediaTypes.ociManifest,
          digest: d(3),
          size: 1,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        },
      ],
    });
  });

  it('refuses schema 1, unknown media types and garbage', () => {
    assert.throws(() => parseManifest(Buffer.from('{}'), mediaTypes.dockerSchema1Signed, 'img'), /schema 1/);
    assert.throws(
      () => parseManifest(Buffer.from('{"schemaVersion":1}'), mediaTypes.dockerManifest, 'img'),
      /schema 1/,
    );
    assert.throws(
      () => parseManifest(Buffer.from('{}'), 'application/x-foo', 'img'),
      /unsupported manifest media type/,
    );
    assert.throws(() => parseManifest(Buffer.from('nope'), mediaTypes.ociManifest, 'img'), /not JSON/);
    assert.throws(
      () => parseManifest(Buffer.from('{"layers":[{}]}'), mediaTypes.ociManifest, 'img'),
      /malformed descriptor/,
    );
  });
});

describe('selectPlatform', () => {
  const index: ImageIndex = {
    kind: 'index',
    manifests: [
      { mediaType: '', digest: d(1), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { mediaType: '', digest: d(2), size: 1, platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } },
      { mediaType: '', digest: d(3), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: '', digest: d(4), size: 1, platform: { os: 'windows', architecture: 'amd64' } },
    ],
  };
  it('prefers the entry without a variant when none is wanted', () => {
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' }, 'x').digest, d(3));
  });
  it('matches a wanted variant exactly', () => {
    assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest, d(1));
  });
  it('names what the index offers when nothing fits', () => {
    assert.throws(
      () => selectPlatform(index, { os: 'linux', architecture: 's390x' }, 'img'),
      /no image for linux\/s390x.*linux\/arm\/v7/,
    );
  });
});

describe('image config and user', () => {
  it('needs rootfs.diff_ids', () => {
    assert.throws(() => parseImageConfig(Buffer.from('{}'), 'img'), /diff_ids/);
    const c = parseImageConfig(
      Buffer.from(JSON.stringify({ config: { User: 'www-data:1004' }, rootfs: { diff_ids: [d(1)] } })),
      'img',
    );
    assert.equal(c.user, 'www-data:1004');
    assert.deepEqual(c.diffIds, [d(1)]);
  });
  it('reports uid for numeric users and username for names, as critest expects', () => {
    assert.deepEqual(imageUser(''), { uid: 0n, username: '' });
    assert.deepEqual(imageUser('1002'), { uid: 1002n, username: '' });
    assert.deepEqual(imageUser('1003:1004'), { uid: 1003n, username: '' });
    assert.deepEqual(imageUser('www-data'), { username: 'www-data' });
    assert.deepEqual(imageUser('www-data:1004'), { username: 'www-data' });
  });
});
