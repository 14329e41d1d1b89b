import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Device } from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import { containerDevices, deviceAt, devMajor, devMinor, hostDevices } from './container-spec-devices.js';

const invalid = (re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === 'InvalidArgument' && re.test(err.message);
const device = (host_path: string, container_path = '', permissions = 'rwm'): Device => ({
  host_path,
  container_path,
  permissions,
});

/** glibc's gnu_dev_makedev, to check the decoding against. */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return (mi & 0xffn) | ((ma & 0xfffn) << 8n) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

describe('dev_t decoding', () => {
  it('splits Linux’s encoding into major and minor, large numbers included', () => {
    for (const [ma, mi] of [
      [1, 3],
      [8, 1],
      [136, 0],
      [259, 7],
      [4095, 255],
      [4096, 256],
      [511, 1048575],
      [0x7fffffff, 0xfffff],
      [0xffffffff, 0xffffffff],
    ] as const) {
      const rdev = makedev(ma, mi);
      assert.equal(devMajor(rdev), ma, `major of ${ma}:${mi}`);
      assert.equal(devMinor(rdev), mi, `minor of ${ma}:${mi}`);
    }
    assert.equal(devMajor(0x0103n), 1);
    assert.equal(devMinor(0x0103n), 3);
  });
});

describe('containerDevices', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cri-ts-dev-'));
    await symlink('/dev/null', join(dir, 'null-link'));
    await writeFile(join(dir, 'file'), 'not a device');
    execFileSync('mkfifo', [join(dir, 'fifo')]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes a host device with its type, numbers, mode and owner, and allows it in the device cgroup', async () => {
    const r = await containerDevices([device('/dev/null', '/dev/xnull', 'rw')]);
    assert.equal(r.devices.length, 1);
    const d = r.devices[0];
    assert.ok(d !== undefined);
    assert.equal(d.path, '/dev/xnull');
    assert.equal(d.type, 'c');
    assert.equal(d.major, 1);
    assert.equal(d.minor, 3);
    assert.equal(d.fileMode, 0o666);
    assert.equal(d.uid, 0);
    assert.deepEqual(r.rules, [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]);
  });

  it('follows a symlinked host path, defaults the container path and the permissions', async () => {
    const r = await containerDevices([device(join(dir, 'null-link'), '', '')]);
    assert.equal(r.devices[0]?.path, join(dir, 'null-link'));
    assert.equal(r.devices[0].major, 1);
    assert.equal(r.rules[0]?.access, 'rwm');
  });

  it('passes FIFOs without a cgroup rule', async () => {
    const r = await containerDevices([device(join(dir, 'fifo'), '/dev/fifo')]);
    assert.equal(r.devices[0]?.type, 'p');
    assert.deepEqual(r.rules, []);
  });

  it('passes every device of a directory at the same relative path', async () => {
    const devdir = join(dir, 'devdir');
    await mkdir(join(devdir, 'sub'), { recursive: true });
    await symlink('/dev/zero', join(devdir, 'zero-link'));
    execFileSync('mkfifo', [join(devdir, 'sub', 'p')]);
    const r = await containerDevices([device(devdir, '/dev/group')]);
    assert.deepEqual(
      r.devices.map((d) => d.path),
      ['/dev/group/sub/p'],
      'symlinks inside are not devices',
    );
  });

  it('refuses missing paths, non-devices, relative paths and bad permissions', async () => {
    await assert.rejects(
      containerDevices([device('/dev/does-not-exist')]),
      invalid(/does-not-exist does not exist/),
    );
    await assert.rejects(containerDevices([device(join(dir, 'file'))]), invalid(/is not a device node/));
    await assert.rejects(containerDevices([device('dev/null')]), invalid(/host_path "dev\/null" is not absolute/));
    await assert.rejects(containerDevices([device('/dev/null', 'x')]), invalid(/container_path "x"/));
    await assert.rejects(containerDevices([device('/dev/null', '', 'rwx')]), invalid(/permissions "rwx"/));
    await assert.rejects(containerDevices([device('/dev/null', '', 'rr')]), invalid(/permissions "rr"/));
  });

  it('reads a device node without following a final symlink', async () => {
    assert.equal(await deviceAt(join(dir, 'null-link'), '/x'), undefined);
    assert.equal((await deviceAt('/dev/null', '/x'))?.minor, 3);
  });
});

describe('hostDevices', () => {
  it('lists the host’s device nodes without the pts, shm and mqueue trees or the console', async () => {
    const devices = await hostDevices('/dev');
    const paths = new Set(devices.map((d) => d.path));
    assert.ok(paths.has('/dev/null') && paths.has('/dev/zero') && paths.has('/dev/urandom'));
    assert.ok(![...paths].some((p) => p.startsWith('/dev/pts/') || p.startsWith('/dev/shm/')));
    assert.ok(!paths.has('/dev/console'));
    assert.deepEqual(
      devices.find((d) => d.path === '/dev/zero'),
      { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
    );
  });
});
