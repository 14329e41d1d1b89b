import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import {
  buildLayer,
  buildTar,
  gzip,
  opaque,
  sha256Digest,
  whiteout,
  zstd,
  type LayerEntry,
} from '../../test/fixtures/layer-builder.js';
import { lgetxattr } from '../native/fsops.js';
import { unpackLayer } from './layer-unpack.js';

const work = await mkdtemp(join(tmpdir(), 'cri-ts-unpack-'));
after(() => rm(work, { recursive: true, force: true }));
const signal = new AbortController().signal;
let counter = 0;

/** A fresh empty destDir three levels below its own scratch dir, so escapes have somewhere to land. */
async function scratch(): Promise<{ outside: string; dest: string }> {
  counter += 1;
  const outside = join(work, `case-${String(counter)}`);
  const dest = join(outside, 'x', 'y', 'dest');
  await mkdir(dest, { recursive: true });
  return { outside, dest };
}

function unpack(blob: Buffer, dest: string, chunk = 64 * 1024): ReturnType<typeof unpackLayer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < blob.length; i += chunk) chunks.push(blob.subarray(i, i + chunk));
  return unpackLayer(Readable.from(chunks), dest, signal);
}

/**
 * Every path under `root` outside `except` (destDir and its parents excluded), never following symlinks, for
 * checking that nothing appeared outside destDir.
 */
async function listOutside(root: string, except: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, dirent.name);
      if (path === except) continue;
      if (!except.startsWith(`${path}/`)) found.push(relative(root, path));
      if (dirent.isDirectory()) await walk(path);
    }
  };
  await walk(root);
  return found.sort();
}

const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw=ep, VFS v2
const T = 1_600_000_000;

const everyType: LayerEntry[] = [
  { type: 'dir', name: 'etc/', mode: 0o750, uid: 5, gid: 6, mtime: T + 1, xattrs: { 'trusted.dirattr': 'd' } },
  { type: 'file', name: 'etc/hostname', data: 'box\n', mode: 0o640, uid: 1000, gid: 1001, mtime: T + 2 },
  { type: 'dir', name: 'tmp/', mode: 0o1777, mtime: T + 3 },
  { type: 'dir', name: 'shared/', mode: 0o2775, gid: 50, mtime: T + 4 },
  { type: 'file', name: 'shared/inherits', data: 'g', mode: 0o644, gid: 51, mtime: T + 5 },
  { type: 'file', name: 'bin/su', data: 'suid', mode: 0o4755, uid: 0, gid: 0, mtime: T + 6 },
  { type: 'file', name: 'bin/sg', data: 'sgid', mode: 0o2755, uid: 2, gid: 3, mtime: T + 7 },
  {
    type: 'file',
    name: 'bin/ping',
    data: 'ping',
    mode: 0o4755,
    uid: 1000,
    gid: 1000,
    mtime: T + 8,
    xattrs: { 'security.capability': CAP, 'user.note': Buffer.from([0, 1, 2, 0x0a, 0xff]) },
  },
  { type: 'symlink', name: 'bin/sh', target: '/bin/../bin/busybox with space', uid: 7, gid: 8, mtime: T + 9 },
  { type: 'symlink', name: 'escape-text', target: '../../../../etc/shadow', mtime: T + 10 },
  { type: 'hardlink', name: 'etc/hostname.link', target: 'etc/hostname' },
  { type: 'char', name: 'dev/null', major: 1, minor: 3, mode: 0o666, mtime: T + 11 },
  { type: 'block', name: 'dev/sda', major: 8, minor: 0, mode: 0o660, gid: 6, mtime: T + 12 },
  { type: 'fifo', name: 'run/initctl', mode: 0o600, uid: 9, mtime: T + 13 },
  { type: 'file', name: 'times', data: '', mtime: T + 14.5, atime: T + 100 },
  { type: 'file', name: 'big-ids', data: 'x', uid: 3_000_000, gid: 4_000_000 },
  { type: 'file', name: `pax/${'p'.repeat(150)}`, data: 'pax name' },
  { type: 'file', name: `gnu/${'g'.repeat(150)}`, data: 'gnu name', longName: 'gnu' },
  { type: 'file', name: `${'u'.repeat(120)}/prefix-name`, data: 'prefix', longName: 'prefix' },
  { type: 'symlink', name: 'long-target-pax', target: `/${'t'.repeat(200)}` },
  { type: 'symlink', name: 'long-target-gnu', target: `/${'k'.repeat(200)}`, longName: 'gnu' },
  { type: 'file', name: '/absolute/is/inside', data: 'inside' },
  { type: 'file', name: './dot/slash', data: 'dot' },
  { type: 'file', name: 'missing/parents/file', data: 'p' },
];

describe('unpackLayer', () => {
  it('writes every entry type with its mode, owner, times and xattrs', async () => {
    const { dest } = await scratch();
    const layer = buildLayer(everyType);
    const result = await unpack(layer.blob, dest);
    assert.deepEqual(result, { diffId: layer.diffId, size: layer.tar.length, entries: everyType.length });

    const at = (p: string) => lstat(join(dest, p));
    const etc = await at('etc');
    assert.ok(etc.isDirectory());
    assert.equal(etc.mode & 0o7777, 0o750);
    assert.deepEqual([etc.uid, etc.gid], [5, 6]);
    assert.equal(etc.mtimeMs, (T + 1) * 1000, 'directory times are set after their content');
    assert.deepEqual(lgetxattr(join(dest, 'etc'), 'trusted.dirattr'), Buffer.from('d'));

    const hostname = await at('etc/hostname');
    assert.equal(await readFile(join(dest, 'etc/hostname'), 'utf8'), 'box\n');
    assert.equal(hostname.mode & 0o7777, 0o640);
    assert.deepEqual([hostname.uid, hostname.gid], [1000, 1001]);
    assert.equal(hostname.mtimeMs, (T + 2) * 1000);
    const link = await at('etc/hostname.link');
    assert.equal(link.ino, hostname.ino, 'a hard link shares the inode');
    assert.equal(hostname.nlink, 2);

    assert.equal((await at('tmp')).mode & 0o7777, 0o1777);
    const shared = await at('shared');
    assert.equal(shared.mode & 0o7777, 0o2775);
    const inherits = await at('shared/inherits');
    assert.equal(inherits.gid, 51, 'the archived group wins over the setgid parent');
    assert.equal(inherits.mode & 0o7777, 0o644);

    assert.equal((await at('bin/su')).mode & 0o7777, 0o4755);
    const sg = await at('bin/sg');
    assert.equal(sg.mode & 0o7777, 0o2755, 'setgid survives the chown');
    assert.deepEqual([sg.uid, sg.gid], [2, 3]);
    const ping = await at('bin/ping');
    assert.equal(ping.mode & 0o7777, 0o4755);
    assert.deepEqual([ping.uid, ping.gid], [1000, 1000]);
    assert.deepEqual(lgetxattr(join(dest, 'bin/ping'), 'security.capability'), CAP, 'capability survives chown');
    assert.deepEqual(lgetxattr(join(dest, 'bin/ping'), 'user.note'), Buffer.from([0, 1, 2, 0x0a, 0xff]));

    const sh = await at('bin/sh');
    assert.ok(sh.isSymbolicLink());
    assert.equal(await readlink(join(dest, 'bin/sh')), '/bin/../bin/busybox with space');
    assert.deepEqual([sh.uid, sh.gid], [7, 8]);
    assert.equal(sh.mtimeMs, (T + 9) * 1000);
    assert.equal(await readlink(join(dest, 'escape-text')), '../../../../etc/shadow', 'targets are kept verbatim');

    const devNull = await at('dev/null');
    assert.ok(devNull.isCharacterDevice());
    assert.equal(devNull.rdev, (1 << 8) | 3);
    assert.equal(devNull.mode & 0o7777, 0o666);
    assert.equal(devNull.mtimeMs, (T + 11) * 1000);
    const sda = await at('dev/sda');
    assert.ok(sda.isBlockDevice());
    assert.equal(sda.rdev, 8 << 8);
    assert.equal(sda.mode & 0o7777, 0o660);
    assert.equal(sda.gid, 6);
    const fifo = await at('run/initctl');
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o600);
    assert.equal(fifo.uid, 9);

    const times = await at('times');
    assert.equal(times.mtimeMs, (T + 14.5) * 1000, 'fractional PAX mtime');
    assert.equal(times.atimeMs, (T + 100) * 1000, 'PAX atime');
    const bigIds = await at('big-ids');
    assert.deepEqual([bigIds.uid, bigIds.gid], [3_000_000, 4_000_000]);

    assert.equal(await readFile(join(dest, 'pax', 'p'.repeat(150)), 'utf8'), 'pax name');
    assert.equal(await readFile(join(dest, 'gnu', 'g'.repeat(150)), 'utf8'), 'gnu name');
    assert.equal(await readFile(join(dest, 'u'.repeat(120), 'prefix-name'), 'utf8'), 'prefix');
    assert.equal(await readlink(join(dest, 'long-target-pax')), `/${'t'.repeat(200)}`);
    assert.equal(await readlink(join(dest, 'long-target-gnu')), `/${'k'.repeat(200)}`);
    assert.equal(await readFile(join(dest, 'absolute/is/inside'), 'utf8'), 'inside');
    assert.equal(await readFile(join(dest, 'dot/slash'), 'utf8'), 'dot');
    const missing = await at('missing/parents');
    assert.equal(missing.mode & 0o7777, 0o755, 'parents missing from the tar are made 0755');
    assert.deepEqual([missing.uid, missing.gid], [0, 0]);
  });

  it('produces the same tree as GNU tar for the same archive', async () => {
    const { dest } = await scratch();
    const theirs = join(dest, '..', 'gnu-tar');
    await mkdir(theirs);
    const tar = buildTar(everyType.filter((e) => !e.name.startsWith('/')));
    await unpack(tar, dest);
    execFileSync('tar', ['-C', theirs, '--same-owner', '--numeric-owner', '-xpf', '-'], { input: tar });
    const listing = (dir: string) =>
      execFileSync('find', ['.', '-mindepth', '1', '-printf', '%M %U %G %s %T@ %n %p -> %l\\n'], { cwd: dir })
        .toString()
        .split('\n')
        // Directory times differ: GNU tar sets a directory's times when it leaves it (so a later hard link
        // inside changes them again); unpackLayer sets them all at the end. Missing parents are made "now".
        .map((line) => (line.startsWith('d') ? line.replace(/^(\S+ \S+ \S+ \S+) \S+/, '$1 -') : line))
        .sort();
    assert.deepEqual(listing(dest), listing(theirs));
  });

  it('turns whiteouts into 0/0 character devices and opaque markers into trusted.overlay.opaque', async () => {
    const { dest } = await scratch();
    const layer = buildLayer([
      { type: 'dir', name: 'var/' },
      whiteout('var/cache', { uid: 3, gid: 4 }),
      whiteout('top-level'),
      { type: 'dir', name: 'var/lib/' },
      opaque('var/lib'),
      opaque('made/by/marker'),
      { type: 'file', name: 'var/lib/.wh..wh.plnk', data: 'aufs bookkeeping' },
    ]);
    const result = await unpack(layer.blob, dest);
    assert.equal(result.entries, 7);
    for (const [path, owner] of [
      ['var/cache', [3, 4]],
      ['top-level', [0, 0]],
    ] as const) {
      const st = await lstat(join(dest, path));
      assert.ok(st.isCharacterDevice(), path);
      assert.equal(st.rdev, 0);
      assert.deepEqual([st.uid, st.gid], owner);
    }
    assert.deepEqual(lgetxattr(join(dest, 'var/lib'), 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.ok((await lstat(join(dest, 'made/by/marker'))).isDirectory());
    assert.deepEqual(lgetxattr(join(dest, 'made/by/marker'), 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.equal(lgetxattr(join(dest, 'var'), 'trusted.overlay.opaque'), undefined);
    assert.deepEqual(await readdir(join(dest, 'var/lib')), [], 'no .wh. file is written');
    assert.deepEqual((await readdir(dest)).sort(), ['made', 'top-level', 'var']);
  });

  it('lets a later entry replace an earlier one at the same path', async () => {
    const { dest } = await scratch();
    const layer = buildLayer([
      { type: 'file', name: 'f', data: 'first' },
      { type: 'file', name: 'f', data: 'second', mode: 0o600 },
      { type: 'dir', name: 'd/', mode: 0o700 },
      { type: 'file', name: 'd/kept', data: 'k' },
      { type: 'dir', name: 'd/', mode: 0o755, uid: 4, mtime: T },
      { type: 'file', name: 'file-then-dir', data: 'x' },
      { type: 'dir', name: 'file-then-dir/' },
      { type: 'dir', name: 'dir-then-link/' },
      { type: 'file', name: 'dir-then-link/gone', data: 'x' },
      { type: 'symlink', name: 'dir-then-link', target: 'd' },
      { type: 'symlink', name: 'link-then-file', target: 'nowhere' },
      { type: 'file', name: 'link-then-file', data: 'file now' },
      whiteout('f2'),
      { type: 'file', name: 'f2', data: 'over the whiteout' },
    ]);
    await unpack(layer.blob, dest);
    assert.equal(await readFile(join(dest, 'f'), 'utf8'), 'second');
    assert.equal((await lstat(join(dest, 'f'))).mode & 0o7777, 0o600);
    const d = await lstat(join(dest, 'd'));
    assert.equal(d.mode & 0o7777, 0o755, 'a directory over a directory updates its metadata');
    assert.equal(d.uid, 4);
    assert.equal(d.mtimeMs, T * 1000);
    assert.equal(await readFile(join(dest, 'd/kept'), 'utf8'), 'k', '… and keeps its content');
    assert.ok((await lstat(join(dest, 'file-then-dir'))).isDirectory());
    assert.equal(await readlink(join(dest, 'dir-then-link')), 'd');
    assert.equal(await readFile(join(dest, 'link-then-file'), 'utf8'), 'file now');
    assert.equal(await readFile(join(dest, 'f2'), 'utf8'), 'over the whiteout');
  });

  it('reads GNU-format headers and ignores entries naming the root itself', async () => {
    const { dest } = await scratch();
    const before = await lstat(dest);
    const layer = buildLayer(
      [
        { type: 'dir', name: './', mode: 0o777, uid: 9, mtime: T },
        { type: 'char', name: 'dev/tty', major: 5, minor: 0, uid: 0, gid: 5 },
        { type: 'file', name: `${'n'.repeat(140)}/file`, data: 'long' },
      ],
      { format: 'gnu' },
    );
    assert.equal((await unpack(layer.blob, dest)).entries, 3);
    assert.equal((await lstat(join(dest, 'dev/tty'))).rdev, 5 << 8);
    assert.equal(await readFile(join(dest, 'n'.repeat(140), 'file'), 'utf8'), 'long');
    const rootAfter = await lstat(dest);
    assert.deepEqual(
      [rootAfter.mode, rootAfter.uid],
      [before.mode, before.uid],
      'destDir itself belongs to the caller',
    );
  });

  it('reports a full disk as ResourceExhausted, naming the entry', async () => {
    const { dest } = await scratch();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dest]);
    try {
      // Small files go through the fd tails, a big one is written inline: both paths must report.
      for (const size of [100 * 1024, 2 * 1024 * 1024]) {
        const entries: LayerEntry[] = Array.from({ length: 12 }, (_, i) => ({
          type: 'file',
          name: `f${String(i)}`,
          data: randomish(size),
        }));
        await assert.rejects(unpack(gzip(buildTar(entries)), dest), (err: Error & { kind?: string }) => {
          assert.equal(err.kind, 'ResourceExhausted');
          assert.match(err.message, /unpacking layer entry "f[0-9]+": ENOSPC/);
          return true;
        });
        for (const name of await readdir(dest)) await rm(join(dest, name), { recursive: true });
      }
    } finally {
      execFileSync('umount', [dest]);
    }
  });

  it('makes a hard link to a symlink a second symlink, never following it', async () => {
    const { outside, dest } = await scratch();
    const layer = buildLayer([
      { type: 'symlink', name: 'to-outside', target: outside },
      { type: 'hardlink', name: 'second', target: 'to-outside' },
    ]);
    await unpack(layer.blob, dest);
    const [first, second] = await Promise.all([lstat(join(dest, 'to-outside')), lstat(join(dest, 'second'))]);
    assert.ok(second.isSymbolicLink());
    assert.equal(second.ino, first.ino);
    assert.equal(await readlink(join(dest, 'second')), outside);
  });

  it('reads gzip, zstd and plain tar alike; diffId is the sha256 of the uncompressed tar', async () => {
    const tar = buildTar([
      { type: 'dir', name: 'data/' },
      { type: 'file', name: 'data/random', data: randomish(3 * 1024 * 1024 + 17) },
      { type: 'file', name: 'data/small', data: 'small' },
    ]);
    for (const [what, blob] of [
      ['gzip', gzip(tar)],
      ['zstd', zstd(tar)],
      ['plain', tar],
    ] as const) {
      const { dest } = await scratch();
      const result = await unpack(blob, dest);
      assert.deepEqual(result, { diffId: sha256Digest(tar), size: tar.length, entries: 3 }, what);
      assert.equal((await stat(join(dest, 'data/random'))).size, 3 * 1024 * 1024 + 17, what);
      // Odd chunk sizes split headers and bodies everywhere.
      const { dest: again } = await scratch();
      assert.equal((await unpack(blob, again, 4093)).diffId, sha256Digest(tar), `${what} in odd chunks`);
    }
  });

  it('accepts a layer without the end-of-archive marker and without the last file padding', async () => {
    const entries: LayerEntry[] = [
      { type: 'file', name: 'first', data: 'a'.repeat(700) },
      { type: 'file', name: 'last', data: 'b'.repeat(1000) },
    ];
    for (const options of [{ endMarker: false }, { endMarker: false, padLast: false }]) {
      const { dest } = await scratch();
      const layer = buildLayer(entries, options);
      const result = await unpack(layer.blob, dest);
      assert.equal(result.diffId, layer.diffId);
      assert.equal(result.entries, 2);
      assert.equal(await readFile(join(dest, 'last'), 'utf8'), 'b'.repeat(1000));
    }
    // With only one of the two zero blocks, and with tar's record padding after the marker.
    for (const tail of [Buffer.alloc(512), Buffer.alloc(1024 + 9 * 1024)]) {
      const { dest } = await scratch();
      const tar = Buffer.concat([buildTar(entries, { endMarker: false }), tail]);
      assert.equal((await unpack(tar, dest)).diffId, sha256Digest(tar));
    }
  });

  it('hashes bytes after the end-of-archive marker without reading them as entries', async () => {
    const { dest } = await scratch();
    const tar = Buffer.concat([buildTar([{ type: 'file', name: 'f', data: 'x' }]), Buffer.from('trailing junk')]);
    const result = await unpack(gzip(tar), dest);
    assert.deepEqual(result, { diffId: sha256Digest(tar), size: tar.length, entries: 1 });
  });

  it('refuses a layer whose last file body is cut short', async () => {
    const full = buildTar([{ type: 'file', name: 'cut/short', data: 'z'.repeat(5000) }], { endMarker: false });
    for (const cut of [512 + 4999, 512 + 100, 512]) {
      const { dest } = await scratch();
      await assert.rejects(unpack(gzip(full.subarray(0, cut)), dest), (err: Error & { kind?: string }) => {
        assert.equal(err.kind, 'InvalidArgument');
        assert.match(err.message, /"cut\/short" is truncated/);
        return true;
      });
    }
  });

  it('refuses corrupt input', async () => {
    const tar = buildTar([{ type: 'file', name: 'f', data: 'x' }]);
    const badSum = Buffer.from(tar);
    badSum[0] = 0x67; // "g": the name changes, the checksum does not
    const cases: [string, Buffer, RegExp][] = [
      ['checksum', badSum, /checksum mismatch/],
      ['header cut', tar.subarray(0, 300), /ends inside a tar header/],
      ['gzip cut', gzip(tar).subarray(0, 30), /gzip data is corrupt/],
      ['sparse', buildTar([{ type: 'raw', typeflag: 'S', name: 'sparse' }]), /unsupported tar type 'S'/],
      ['zero then data', Buffer.concat([Buffer.alloc(512), tar]), /zero block is followed by data/],
    ];
    for (const [what, blob, message] of cases) {
      const { dest } = await scratch();
      await assert.rejects(unpack(blob, dest), { kind: 'InvalidArgument', message }, what);
    }
  });

  describe('refuses layers that write outside destDir', () => {
    const malicious: [string, (outside: string) => LayerEntry[], RegExp][] = [
      ['dot-dot', () => [{ type: 'file', name: '../escape', data: 'x' }], /"\.\.\/escape" escapes/],
      [
        'dot-dot inside a path',
        () => [{ type: 'file', name: 'a/../../escape', data: 'x' }],
        /"a\/\.\.\/\.\.\/escape" escapes/,
      ],
      [
        'symlink to / then through it',
        (outside) => [
          { type: 'symlink', name: 'link', target: '/' },
          { type: 'file', name: `link${outside}/evil`, data: 'x' },
        ],
        /symlink in its path: "link"/,
      ],
      [
        'symlink to .. then through it',
        () => [
          { type: 'symlink', name: 'link', target: '..' },
          { type: 'file', name: 'link/evil', data: 'x' },
        ],
        /"link\/evil" has a symlink in its path: "link"/,
      ],
      [
        'directory replaced by a symlink, then written through',
        () => [
          { type: 'dir', name: 'd/' },
          { type: 'symlink', name: 'd', target: '../..' },
          { type: 'dir', name: 'd/evil/' },
        ],
        /"d\/evil\/" has a symlink in its path: "d"/,
      ],
      [
        'hardlink to ../../etc/passwd',
        () => [{ type: 'hardlink', name: 'passwd', target: '../../etc/passwd' }],
        /"passwd" is a hard link to "\.\.\/\.\.\/etc\/passwd", which escapes/,
      ],
      [
        'hardlink through a symlink',
        (outside) => [
          { type: 'symlink', name: 'out', target: outside },
          { type: 'hardlink', name: 'h', target: 'out/sentinel' },
        ],
        /"h" is a hard link to "out\/sentinel", which has a symlink in its path: "out"/,
      ],
      [
        'hardlink to a path not in the layer',
        () => [{ type: 'hardlink', name: 'h', target: 'etc/passwd' }],
        /"h" is a hard link to "etc\/passwd", which does not exist in the layer/,
      ],
      ['whiteout of ..', () => [{ type: 'file', name: 'a/.wh...', data: '' }], /"a\/\.wh\.\.\." is a whiteout/],
      [
        'device through a symlink',
        () => [
          { type: 'symlink', name: 'dev', target: '../..' },
          { type: 'char', name: 'dev/evil', major: 1, minor: 3 },
        ],
        /"dev\/evil" has a symlink in its path: "dev"/,
      ],
    ];
    for (const [name, entries, message] of malicious) {
      it(name, async () => {
        const { outside, dest } = await scratch();
        const sentinel = join(outside, 'sentinel');
        await writeFile(sentinel, 'sentinel');
        const before = await listOutside(outside, dest);
        for (const compression of ['gzip', 'none'] as const) {
          await rm(dest, { recursive: true, force: true });
          await mkdir(dest);
          const layer = buildLayer(entries(outside), { compression });
          await assert.rejects(unpack(layer.blob, dest), { kind: 'InvalidArgument', message });
          assert.deepEqual(await listOutside(outside, dest), before, 'nothing appeared outside destDir');
          assert.equal((await stat(sentinel)).nlink, 1, 'the sentinel gained no hard link');
          assert.equal(await readFile(sentinel, 'utf8'), 'sentinel');
        }
      });
    }
  });

  it('stops when aborted mid-stream and destroys the blob stream', async () => {
    const { dest } = await scratch();
    const tar = buildTar([{ type: 'file', name: 'big', data: randomish(4 * 1024 * 1024) }]);
    const blob = new Readable({ read: () => undefined });
    blob.push(tar.subarray(0, 1024 * 1024)); // the rest never comes
    const ac = new AbortController();
    const pending = unpackLayer(blob, dest, ac.signal);
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(pending, { kind: 'Canceled' });
    assert.ok(blob.destroyed);

    const already = new AbortController();
    already.abort();
    await assert.rejects(unpackLayer(Readable.from([tar]), dest, already.signal), { kind: 'Canceled' });
  });

  it('unpacks every layer of the critest OCI layout (umoci, no end marker) to its config diff_id', async () => {
    const layout = new URL('../../../test/critest/out/images/oci/', import.meta.url).pathname;
    try {
      await stat(join(layout, 'index.json'));
    } catch {
      const repo = new URL('../../../', import.meta.url).pathname;
      const out = join(repo, 'test/critest/out/images');
      execFileSync('bash', [join(repo, 'test/critest/images/build.sh'), out], { stdio: 'inherit' });
    }
    const blobPath = (digest: string) => join(layout, 'blobs/sha256', digest.replace(/^sha256:/, ''));
    const readJson = async (digest: string): Promise<unknown> =>
      JSON.parse(await readFile(blobPath(digest), 'utf8'));
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const checked = new Set<string>();
    let withoutMarker = 0;
    let withoutPadding = 0;
    for (const { digest } of index.manifests) {
      const manifest = (await readJson(digest)) as { config: { digest: string }; layers: { digest: string }[] };
      const config = (await readJson(manifest.config.digest)) as { rootfs: { diff_ids: string[] } };
      for (const [i, layer] of manifest.layers.entries()) {
        if (checked.has(layer.digest)) continue;
        checked.add(layer.digest);
        const { dest } = await scratch();
        const result = await unpackLayer(createReadStream(blobPath(layer.digest)), dest, signal);
        assert.equal(result.diffId, config.rootfs.diff_ids[i], layer.digest);
        const compressed = await readFile(blobPath(layer.digest));
        const tar =
          compressed[0] === 0x1f
            ? gunzipSync(compressed)
            : compressed.readUInt32BE(0) === 0x28b52ffd
              ? zstdDecompressSync(compressed)
              : compressed;
        if (!tar.subarray(-1024).equals(Buffer.alloc(1024))) withoutMarker += 1;
        if (tar.length % 512 !== 0) withoutPadding += 1;
      }
    }
    assert.ok(checked.size > 0);
    assert.ok(withoutMarker > 0, 'the layout has layers without the end-of-archive marker');
    assert.ok(withoutPadding > 0, 'the layout has layers whose last file lacks its padding');
  });
});

/** Incompressible-looking bytes without the cost of crypto randomness. */
function randomish(size: number): Buffer {
  const data = Buffer.alloc(size);
  let x = 0x12345678;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return data;
}
