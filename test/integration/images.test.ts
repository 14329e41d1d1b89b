// ImageService end to end: the real daemon pulling from real registries (plain, basic auth, token auth) on
// 127.0.0.1, with images these tests build byte by byte, and assertions on what lands on disk.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { status as grpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { lgetxattr } from '../../src/native/fsops.js';
import { buildLayer, opaque, whiteout, type BuiltLayer, type LayerEntry } from '../fixtures/layer-builder.js';
import { repoRoot, TestDaemon, unary } from './harness.js';
import { LocalRegistry } from './registry/local-registry.js';

const run = promisify(execFile);
const crictl = join(repoRoot, '.tools/bin/crictl');

interface CriImage {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: bigint;
  uid: { value: bigint } | null;
  username: string;
  pinned: boolean;
}

function configFor(layers: BuiltLayer[], options: { user?: string; architecture?: string } = {}): object {
  return {
    architecture: options.architecture ?? 'amd64',
    os: 'linux',
    config: { User: options.user ?? '', Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  };
}

async function push(reg: LocalRegistry, repo: string, tag: string, layers: BuiltLayer[], user?: string) {
  return reg.pushImage(repo, tag, {
    config: configFor(layers, user === undefined ? {} : { user }),
    layers: layers.map((l) => ({ data: l.blob, mediaType: l.mediaType })),
  });
}

const rejectsWith = (promise: Promise<unknown>, code: grpcStatus, pattern?: RegExp): Promise<void> =>
  assert.rejects(promise, (err: ServiceError) => {
    assert.equal(err.code, code, `${grpcStatus[err.code]}: ${err.details}`);
    if (pattern !== undefined) assert.match(err.details, pattern);
    return true;
  });

describe('ImageService against real registries', () => {
  let daemon: TestDaemon;
  let plain: LocalRegistry;
  let basic: LocalRegistry;
  let token: LocalRegistry;
  let authFile: string;
  let images: Client;

  const pull = (image: string, auth?: Record<string, string>) =>
    unary<{ image_ref: string }>(images, 'PullImage', {
      image: { image },
      ...(auth === undefined ? {} : { auth }),
    });
  const imageStatus = async (image: string, verbose = false) =>
    await unary<{ image: CriImage | null; info: Record<string, string> }>(images, 'ImageStatus', {
      image: { image },
      verbose,
    });
  const remove = (image: string) => unary(images, 'RemoveImage', { image: { image } });
  const layerDir = (diffId: string) =>
    join(daemon.dir, 'root', 'images', 'layers', 'sha256', diffId.slice('sha256:'.length), 'diff');

  before(async () => {
    [plain, basic, token] = await Promise.all([
      LocalRegistry.start({ kind: 'none' }),
      LocalRegistry.start({ kind: 'basic', username: 'alice', password: 's3cret' }),
      LocalRegistry.start({ kind: 'token', username: 'bob', password: 'hunter2' }),
    ]);
    daemon = await TestDaemon.create();
    authFile = join(daemon.dir, 'auth.json');
    const conf = join(daemon.dir, 'registries.conf');
    const entries = [plain.host, basic.host, token.host].map(
      (h) => `[[registry]]\nprefix = "${h}"\nlocation = "${h}"\ninsecure = true\n`,
    );
    entries.push(
      // A mirror that is down comes first; the pull must fall back to the location.
      `[[registry]]\nprefix = "mirrored.example/app"\nlocation = "${plain.host}/app"\ninsecure = true\n` +
        `[[registry.mirror]]\nlocation = "127.0.0.1:1/app"\ninsecure = true\n`,
      `[[registry]]\nprefix = "blocked.example"\nblocked = true\n`,
    );
    await writeFile(conf, `unqualified-search-registries = []\n${entries.join('\n')}`);
    await daemon.start({
      args: ['--registries-conf', conf, '--pause-image', `${plain.host}/infra/pause:3.10`],
      configToml: `[image]\nglobal_auth_file = "${authFile}"\n`,
    });
    images = daemon.image();
  });

  after(async () => {
    images.close();
    await daemon.cleanup();
    await Promise.all([plain.stop(), basic.stop(), token.stop()]);
  });

  it('pulls gzip, zstd and plain layers into overlay-ready directories', async () => {
    const base = buildLayer(
      [
        { type: 'dir', name: 'bin/', mode: 0o755 },
        { type: 'file', name: 'bin/busybox', data: 'ELF-ish', mode: 0o755 },
        { type: 'hardlink', name: 'bin/sh', target: 'bin/busybox' },
        { type: 'file', name: 'bin/su', data: 'su', mode: 0o4755, uid: 0, gid: 0 },
        { type: 'file', name: 'home/www/index.html', data: 'hi', uid: 33, gid: 33 },
        { type: 'symlink', name: 'lib', target: 'usr/lib' },
        { type: 'file', name: 'var/cache/old', data: 'stale' },
        { type: 'file', name: 'var/lib/apt/keep', data: 'old list' },
      ],
      { compression: 'gzip' },
    );
    const upper = buildLayer(
      [
        whiteout('var/cache/old'),
        opaque('var/lib/apt'),
        { type: 'file', name: 'var/lib/apt/new', data: 'new list' },
      ],
      { compression: 'zstd' },
    );
    // Written the way Debian's umoci writes layers: no end-of-archive marker, last file unpadded.
    const last = buildLayer([{ type: 'file', name: 'etc/hostname', data: 'box\n' }], {
      compression: 'none',
      endMarker: false,
      padLast: false,
    });
    const pushed = await push(plain, 'layers/mixed', 'v1', [base, upper, last], '1002:1004');
    const ref = `${plain.host}/layers/mixed:v1`;
    const res = await pull(ref);
    assert.equal(res.image_ref, pushed.configDigest, 'image_ref is the config digest');

    const baseDir = layerDir(base.diffId);
    const sh = await lstat(join(baseDir, 'bin/sh'));
    assert.equal(sh.ino, (await lstat(join(baseDir, 'bin/busybox'))).ino, 'hard link shares the inode');
    assert.equal((await lstat(join(baseDir, 'bin/su'))).mode & 0o7777, 0o4755, 'setuid bit kept');
    assert.equal((await lstat(join(baseDir, 'home/www/index.html'))).uid, 33, 'owner kept');
    assert.ok((await lstat(join(baseDir, 'lib'))).isSymbolicLink());
    const upperDir = layerDir(upper.diffId);
    const wh = await lstat(join(upperDir, 'var/cache/old'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout became a 0/0 character device');
    assert.equal(lgetxattr(join(upperDir, 'var/lib/apt'), 'trusted.overlay.opaque')?.toString(), 'y');
    await assert.rejects(lstat(join(upperDir, 'var/lib/apt/.wh..wh..opq')), { code: 'ENOENT' });
    assert.equal((await stat(join(layerDir(last.diffId), 'etc/hostname'))).size, 4);

    const byTag = await imageStatus(ref);
    assert.ok(byTag.image !== null);
    assert.deepEqual(byTag.image.repo_tags, [ref]);
    assert.deepEqual(byTag.image.repo_digests, [`${plain.host}/layers/mixed@${pushed.manifestDigest}`]);
    assert.equal(byTag.image.uid?.value, 1002n);
    assert.equal(byTag.image.username, '');
    assert.ok(byTag.image.size > 0n);
    for (const name of [
      pushed.configDigest,
      pushed.configDigest.slice(7),
      pushed.configDigest.slice(7, 19),
      byTag.image.repo_digests[0] ?? '',
    ]) {
      assert.deepEqual((await imageStatus(name)).image, byTag.image, `status by ${name}`);
    }
    const verbose = await imageStatus(ref, true);
    const info = JSON.parse(verbose.info['info'] ?? '{}') as { imageSpec?: { config?: { User?: string } } };
    assert.equal(info.imageSpec?.config?.User, '1002:1004');
    const list = await unary<{ images: CriImage[] }>(images, 'ListImages', {});
    assert.ok(list.images.some((i) => i.id === pushed.configDigest));
    const filtered = await unary<{ images: CriImage[] }>(images, 'ListImages', {
      filter: { image: { image: ref } },
    });
    assert.deepEqual(
      filtered.images.map((i) => i.id),
      [pushed.configDigest],
    );
  });

  it('picks linux/amd64 from a multi-arch index and records the index digest', async () => {
    const amd = buildLayer([{ type: 'file', name: 'arch', data: 'amd64' }]);
    const arm = buildLayer([{ type: 'file', name: 'arch', data: 'arm64' }]);
    const a = await plain.pushImage('multi/arch', 'amd64-only', {
      config: configFor([amd]),
      layers: [{ data: amd.blob, mediaType: amd.mediaType }],
    });
    const b = await plain.pushImage('multi/arch', 'arm64-only', {
      config: configFor([arm], { architecture: 'arm64' }),
      layers: [{ data: arm.blob, mediaType: arm.mediaType }],
    });
    const indexDigest = await plain.pushIndex('multi/arch', 'latest', [
      { ...b.descriptor, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { ...a.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
    ]);
    const res = await pull(`${plain.host}/multi/arch`);
    assert.equal(res.image_ref, a.configDigest);
    const st = await imageStatus(`${plain.host}/multi/arch:latest`);
    assert.deepEqual(st.image?.repo_digests, [`${plain.host}/multi/arch@${indexDigest}`]);
    assert.equal((await plain.blobFetchCount(arm.digest)).valueOf(), 0, 'the arm64 layer is never downloaded');
  });

  it('pulls by digest, reporting no tag and the digest it was asked for', async () => {
    const layer = buildLayer([{ type: 'file', name: 'by-digest', data: 'd' }]);
    const pushed = await push(plain, 'digest/only', 'moving-tag', [layer]);
    const ref = `${plain.host}/digest/only@${pushed.manifestDigest}`;
    assert.equal((await pull(ref)).image_ref, pushed.configDigest);
    const st = await imageStatus(ref);
    assert.ok(st.image !== null);
    assert.deepEqual(st.image.repo_tags, []);
    assert.deepEqual(st.image.repo_digests, [ref]);
  });

  it('downloads each blob once for concurrent pulls of a large image', async () => {
    const big = buildLayer([{ type: 'file', name: 'blob.bin', data: randomBytes(48 * 1024 * 1024) }], {
      compression: 'gzip',
    });
    const pushed = await push(plain, 'big/image', 'v1', [big]);
    plain.resetCounts();
    const ref = `${plain.host}/big/image:v1`;
    const results = await Promise.all(Array.from({ length: 5 }, () => pull(ref)));
    assert.deepEqual(new Set(results.map((r) => r.image_ref)), new Set([pushed.configDigest]));
    assert.equal(await plain.blobFetchCount(big.digest), 1);
    assert.equal((await stat(join(layerDir(big.diffId), 'blob.bin'))).size, 48 * 1024 * 1024);
    const metrics = await (await fetch(`http://127.0.0.1:${String(daemon.metricsPort)}/metrics`)).text();
    assert.match(metrics, /^cri_ts_image_pulls_total\{outcome="success"\} [1-9]/m);
    assert.match(metrics, /^cri_ts_image_pulls_bytes_total [1-9]\d{7,}/m);
    assert.match(metrics, /^cri_ts_image_layer_seconds_count\{phase="unpack"\} [1-9]/m);
  });

  describe('refuses malicious layers, naming the entry and writing nothing outside', () => {
    const sentinel = `cri-ts-escape-${randomBytes(4).toString('hex')}`;
    const cases: [string, LayerEntry[]][] = [
      ['dot-dot traversal', [{ type: 'file', name: `../../../../../../../../tmp/${sentinel}`, data: 'x' }]],
      [
        'symlink escape',
        [
          { type: 'symlink', name: 'escape', target: '/tmp' },
          { type: 'file', name: `escape/${sentinel}`, data: 'x' },
        ],
      ],
      ['hardlink escape', [{ type: 'hardlink', name: 'passwd', target: '../../../../../../../../etc/passwd' }]],
    ];
    for (const [name, entries] of cases) {
      it(name, async () => {
        const layer = buildLayer(entries);
        const repo = `evil/${name.replace(/\W+/g, '-')}`;
        await push(plain, repo, 'v1', [layer]);
        const ref = `${plain.host}/${repo}:v1`;
        await rejectsWith(pull(ref), grpcStatus.INVALID_ARGUMENT, /escape|outside|\.\./);
        assert.equal((await imageStatus(ref)).image, null, 'no image recorded');
        await assert.rejects(lstat(join('/tmp', sentinel)), { code: 'ENOENT' });
        await assert.rejects(lstat(layerDir(layer.diffId)), { code: 'ENOENT' });
        assert.deepEqual(await readdir(join(daemon.dir, 'root', 'images', 'layers', 'scratch')), []);
      });
    }
  });

  it('authenticates with basic auth from the request or the credentials file', async () => {
    const layer = buildLayer([{ type: 'file', name: 'secret', data: 'basic' }]);
    await push(basic, 'private/app', 'v1', [layer]);
    const ref = `${basic.host}/private/app:v1`;
    await rejectsWith(pull(ref), grpcStatus.FAILED_PRECONDITION, /requires credentials|refused/);
    await rejectsWith(pull(ref, { username: 'alice', password: 'wrong' }), grpcStatus.FAILED_PRECONDITION);
    await pull(ref, { username: 'alice', password: 's3cret' });
    await remove(ref);
    await pull(ref, { auth: Buffer.from('alice:s3cret').toString('base64') });
    await remove(ref);
    await writeFile(
      authFile,
      JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }),
    );
    try {
      await pull(ref);
      assert.ok((await imageStatus(ref)).image !== null);
    } finally {
      await rm(authFile, { force: true });
    }
  });

  it('authenticates at a bearer token service with a password or an identity token', async () => {
    const layer = buildLayer([{ type: 'file', name: 'secret', data: 'token' }]);
    await push(token, 'private/tok', 'v1', [layer]);
    const ref = `${token.host}/private/tok:v1`;
    await rejectsWith(pull(ref), grpcStatus.FAILED_PRECONDITION, /token service/);
    await pull(ref, { username: 'bob', password: 'hunter2' });
    await remove(ref);
    await pull(ref, { username: 'bob', identity_token: token.identityToken() });
    assert.ok(token.tokenRequests().some((r) => r.grant === 'refresh_token' && r.status === 200));
  });

  it('falls back from a mirror that is down, keeps the requested name, and refuses blocked registries', async () => {
    const layer = buildLayer([{ type: 'file', name: 'mirrored', data: 'm' }]);
    const pushed = await push(plain, 'app/tool', '1.0', [layer]);
    const res = await pull('mirrored.example/app/tool:1.0');
    assert.equal(res.image_ref, pushed.configDigest);
    assert.deepEqual((await imageStatus('mirrored.example/app/tool:1.0')).image?.repo_tags, [
      'mirrored.example/app/tool:1.0',
    ]);
    await rejectsWith(pull('blocked.example/x:1'), grpcStatus.FAILED_PRECONDITION, /blocked/);
  });

  it('answers bad names with INVALID_ARGUMENT and missing images with NOT_FOUND', async () => {
    await rejectsWith(pull(`${plain.host}/Upper/Case:1`), grpcStatus.INVALID_ARGUMENT, /Upper\/Case/);
    await rejectsWith(pull(''), grpcStatus.INVALID_ARGUMENT);
    await rejectsWith(pull(`${plain.host}/no/such:image`), grpcStatus.NOT_FOUND);
    assert.equal((await imageStatus(`${plain.host}/no/such:image`)).image, null);
  });

  it('removes an image with all its tags, idempotently, and gives the space back', async () => {
    const layer = buildLayer([{ type: 'file', name: 'payload', data: randomBytes(4 * 1024 * 1024) }]);
    await push(plain, 'rm/me', 'a', [layer]);
    await push(plain, 'rm/me', 'b', [layer]);
    await pull(`${plain.host}/rm/me:a`);
    await pull(`${plain.host}/rm/me:b`);
    const fsInfo = async () =>
      (await unary<{ image_filesystems: { used_bytes: { value: bigint } }[] }>(images, 'ImageFsInfo', {}))
        .image_filesystems[0]?.used_bytes.value ?? 0n;
    const before = await fsInfo();
    await remove(`${plain.host}/rm/me:a`);
    assert.equal((await imageStatus(`${plain.host}/rm/me:a`)).image, null);
    assert.equal((await imageStatus(`${plain.host}/rm/me:b`)).image, null);
    await remove(`${plain.host}/rm/me:a`);
    await remove('sha256:0000000000000000000000000000000000000000000000000000000000000000');
    let now = before;
    for (let i = 0; i < 50 && before - now < 4n * 1024n * 1024n; i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = await fsInfo();
    }
    assert.ok(before - now >= 4n * 1024n * 1024n, `freed ${String(before - now)} bytes`);
    await assert.rejects(lstat(layerDir(layer.diffId)), { code: 'ENOENT' });
  });

  it('pins the configured pause image', async () => {
    const layer = buildLayer([{ type: 'file', name: 'pause', data: 'p', mode: 0o755 }]);
    await push(plain, 'infra/pause', '3.10', [layer]);
    await push(plain, 'infra/other', '1', [layer]);
    await pull(`${plain.host}/infra/pause:3.10`);
    await pull(`${plain.host}/infra/other:1`);
    assert.equal((await imageStatus(`${plain.host}/infra/pause:3.10`)).image?.pinned, true);
    assert.equal(
      (await imageStatus(`${plain.host}/infra/other:1`)).image?.pinned,
      true,
      'same image id, so pinned too',
    );
    const solo = buildLayer([{ type: 'file', name: 'solo', data: 's' }]);
    await push(plain, 'infra/solo', '1', [solo]);
    await pull(`${plain.host}/infra/solo:1`);
    assert.equal((await imageStatus(`${plain.host}/infra/solo:1`)).image?.pinned, false);
  });

  it('stops a pull at the client deadline, recording nothing and leaving no partial content', async () => {
    const big = buildLayer([{ type: 'file', name: 'slow.bin', data: randomBytes(64 * 1024 * 1024) }], {
      compression: 'gzip',
    });
    await push(plain, 'slow/image', 'v1', [big]);
    const ref = `${plain.host}/slow/image:v1`;
    await assert.rejects(
      unary(images, 'PullImage', { image: { image: ref } }, { deadlineMs: 150 }),
      (err: ServiceError) => err.code === grpcStatus.DEADLINE_EXCEEDED,
    );
    const canceled = async () =>
      /^cri_ts_image_pulls_total\{outcome="canceled"\} [1-9]/m.test(
        await (await fetch(`http://127.0.0.1:${String(daemon.metricsPort)}/metrics`)).text(),
      );
    for (let i = 0; i < 50 && !(await canceled()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(await canceled(), 'the server gave up the pull, not only the client');
    assert.equal((await imageStatus(ref)).image, null);
    await assert.rejects(lstat(layerDir(big.diffId)), { code: 'ENOENT' });
    assert.deepEqual(await readdir(join(daemon.dir, 'root', 'images', 'ingest')), []);
  });

  it('garbage-collects while another pull runs without breaking it', async () => {
    const keep = buildLayer([{ type: 'file', name: 'keep.bin', data: randomBytes(32 * 1024 * 1024) }]);
    const drop = buildLayer([{ type: 'file', name: 'drop', data: 'd' }]);
    const kept = await push(plain, 'gc/keep', 'v1', [keep]);
    await push(plain, 'gc/drop', 'v1', [drop]);
    await pull(`${plain.host}/gc/drop:v1`);
    const pulling = pull(`${plain.host}/gc/keep:v1`);
    await remove(`${plain.host}/gc/drop:v1`);
    assert.equal((await pulling).image_ref, kept.configDigest);
    assert.equal((await stat(join(layerDir(keep.diffId), 'keep.bin'))).size, 32 * 1024 * 1024);
    for (let i = 0; i < 50; i++) {
      try {
        await lstat(layerDir(drop.diffId));
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await assert.rejects(lstat(layerDir(drop.diffId)), { code: 'ENOENT' });
  });

  it('works through crictl: pull, images, inspecti, imagefsinfo, rmi', async () => {
    const layer = buildLayer([{ type: 'file', name: 'hello', data: 'crictl' }]);
    const pushed = await push(plain, 'tools/crictl', 'v1', [layer], 'www-data');
    const ep = ['--runtime-endpoint', `unix://${daemon.socket}`, '--image-endpoint', `unix://${daemon.socket}`];
    const ref = `${plain.host}/tools/crictl:v1`;
    const pulled = await run(crictl, [...ep, 'pull', ref]);
    assert.match(pulled.stdout, new RegExp(pushed.configDigest));
    assert.match(
      (await run(crictl, [...ep, 'images', '--no-trunc'])).stdout,
      new RegExp(`${plain.host}/tools/crictl\\s+v1\\s+${pushed.configDigest}`),
    );
    const inspected = JSON.parse((await run(crictl, [...ep, 'inspecti', ref])).stdout) as {
      status: { username: string };
    };
    assert.equal(inspected.status.username, 'www-data');
    assert.match((await run(crictl, [...ep, 'imagefsinfo'])).stdout, /usedBytes/);
    await run(crictl, [...ep, 'rmi', ref]);
    assert.equal((await imageStatus(ref)).image, null);
  });

  it('keeps images across a daemon restart', async () => {
    const layer = buildLayer([{ type: 'file', name: 'persist', data: 'p' }]);
    const pushed = await push(plain, 'persist/me', 'v1', [layer]);
    await pull(`${plain.host}/persist/me:v1`);
    daemon.signal('SIGTERM');
    assert.equal((await daemon.waitExit()).code, 0);
    await daemon.start({
      args: ['--registries-conf', join(daemon.dir, 'registries.conf')],
      configToml: `[image]\nglobal_auth_file = "${authFile}"\n`,
    });
    assert.equal((await imageStatus(`${plain.host}/persist/me:v1`)).image?.id, pushed.configDigest);
    assert.equal((await stat(join(layerDir(layer.diffId), 'persist'))).size, 1);
  });
});
