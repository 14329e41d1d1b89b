import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MountPropagation, type Mount } from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import { containerMounts, sandboxMounts } from './container-spec-mounts.js';
import { mountHolding, parseMountinfo, sourcePropagation } from './container-spec-propagation.js';

const kind = (k: string, re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === k && re.test(err.message);
const invalid = (re: RegExp) => kind('InvalidArgument', re);

function mount(over: Partial<Mount>): Mount {
  return {
    container_path: '/data',
    host_path: '',
    readonly: false,
    selinux_relabel: false,
    propagation: MountPropagation.PROPAGATION_PRIVATE,
    uidMappings: [],
    gidMappings: [],
    recursive_read_only: false,
    image: null,
    image_sub_path: '',
    mount_options: [],
    ...over,
  };
}

/** A runtime handler that supports "rro" (runc ≥ 1.1 on Linux ≥ 5.12). */
const withRro = { recursiveReadOnly: true };

const podNet = {
  runDir: '/run/cri-ts/sandboxes/s1',
  shmPath: '/run/cri-ts/sandboxes/s1/shm',
  hostIpc: false,
  hostNetwork: false,
};

describe('mountinfo propagation', () => {
  const text = [
    '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw',
    '51 27 254:0 /x /srv/slave rw,relatime master:3 - ext4 /dev/vda rw',
    '52 27 254:0 /x /srv/both rw,relatime shared:4 master:3 - ext4 /dev/vda rw',
    '53 27 0:40 / /srv/with\\040space rw - tmpfs tmpfs rw',
    '54 27 0:41 / /srv/stack rw shared:9 - tmpfs tmpfs rw',
    '55 54 0:42 / /srv/stack rw - tmpfs tmpfs rw',
    '',
  ].join('\n');
  const entries = parseMountinfo(text);

  it('reads mount points (unescaped) and their propagation', () => {
    assert.deepEqual(entries.slice(0, 5), [
      { mountPoint: '/', propagation: 'private' },
      { mountPoint: '/run/netns', propagation: 'shared' },
      { mountPoint: '/srv/slave', propagation: 'slave' },
      { mountPoint: '/srv/both', propagation: 'shared' },
      { mountPoint: '/srv/with space', propagation: 'private' },
    ]);
  });

  it('finds the deepest mount holding a path, the top of a stack, never a mere name prefix', () => {
    assert.equal(mountHolding(entries, '/run/netns/ns1')?.mountPoint, '/run/netns');
    assert.equal(mountHolding(entries, '/run/netnsX')?.mountPoint, '/');
    assert.equal(mountHolding(entries, '/srv/slave')?.propagation, 'slave');
    assert.equal(mountHolding(entries, '/srv/stack/a')?.propagation, 'private');
    assert.equal(mountHolding(entries, '/srv/with space/f')?.mountPoint, '/srv/with space');
  });

  it('reads a mountinfo file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cri-ts-mi-'));
    try {
      await writeFile(join(dir, 'mountinfo'), text);
      assert.equal(await sourcePropagation('/run/netns/x', join(dir, 'mountinfo')), 'shared');
      assert.equal(await sourcePropagation('/home', join(dir, 'mountinfo')), 'private');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sandboxMounts', () => {
  it('binds the pod’s resolv.conf and hostname read-only and its /dev/shm read-write', () => {
    assert.deepEqual(sandboxMounts(podNet, new Set()), [
      {
        destination: '/etc/resolv.conf',
        type: 'bind',
        source: '/run/cri-ts/sandboxes/s1/resolv.conf',
        options: ['rbind', 'nosuid', 'nodev', 'noexec', 'ro'],
      },
      {
        destination: '/etc/hostname',
        type: 'bind',
        source: '/run/cri-ts/sandboxes/s1/hostname',
        options: ['rbind', 'nosuid', 'nodev', 'noexec', 'ro'],
      },
      {
        destination: '/dev/shm',
        type: 'bind',
        source: '/run/cri-ts/sandboxes/s1/shm',
        options: ['rbind', 'nosuid', 'nodev', 'noexec', 'rw'],
      },
    ]);
  });

  it('uses the host’s /dev/shm with host IPC and the host’s /etc/hosts with host network', () => {
    const m = sandboxMounts({ ...podNet, shmPath: '', hostIpc: true, hostNetwork: true }, new Set());
    assert.equal(m.find((x) => x.destination === '/dev/shm')?.source, '/dev/shm');
    assert.equal(m.find((x) => x.destination === '/etc/hosts')?.source, '/etc/hosts');
    assert.ok(!sandboxMounts(podNet, new Set()).some((x) => x.destination === '/etc/hosts'));
  });

  it('leaves out what the request mounts itself', () => {
    const m = sandboxMounts(
      { ...podNet, hostNetwork: true },
      new Set(['/etc/resolv.conf', '/etc/hosts', '/dev/shm']),
    );
    assert.deepEqual(
      m.map((x) => x.destination),
      ['/etc/hostname'],
    );
  });
});

describe('containerMounts', () => {
  let dir: string;
  let mountinfo: string;
  let shared: string;
  let slave: string;
  let plain: string;
  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'cri-ts-vol-')));
    shared = join(dir, 'shared');
    slave = join(dir, 'slave');
    plain = join(dir, 'plain');
    for (const d of [shared, slave, plain, join(shared, 'sub')]) await mkdir(d, { recursive: true });
    await symlink(plain, join(dir, 'plain-link'));
    mountinfo = join(dir, 'mountinfo');
    await writeFile(
      mountinfo,
      [
        '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
        `60 27 254:0 /a ${shared} rw shared:5 - ext4 /dev/vda rw`,
        `61 27 254:0 /b ${slave} rw master:5 - ext4 /dev/vda rw`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('binds a private volume with rprivate and rw, and reports the mount as requested', async () => {
    const req = mount({ host_path: plain, container_path: '/data/' });
    const r = await containerMounts([req], podNet, withRro, mountinfo);
    assert.deepEqual(r.mounts.at(-1), {
      destination: '/data',
      type: 'bind',
      source: plain,
      options: ['rbind', 'rprivate', 'rw'],
    });
    assert.deepEqual(r.applied, [req]);
    assert.equal(r.rootfsPropagation, undefined);
    assert.equal(r.mounts.length, 4, 'the pod’s three files come first');
  });

  it('follows a symlinked host path on the host (critest: host path is a symlink)', async () => {
    const link = join(dir, 'plain-link');
    const r = await containerMounts(
      [mount({ host_path: link, container_path: link })],
      podNet,
      withRro,
      mountinfo,
    );
    assert.equal(r.mounts.at(-1)?.source, plain);
    assert.equal(r.applied[0]?.host_path, link);
  });

  it('read-only and recursive read-only volumes', async () => {
    const ro = await containerMounts([mount({ host_path: plain, readonly: true })], podNet, withRro, mountinfo);
    assert.deepEqual(ro.mounts.at(-1)?.options, ['rbind', 'rprivate', 'ro']);
    const rro = await containerMounts(
      [mount({ host_path: plain, readonly: true, recursive_read_only: true, selinux_relabel: true })],
      podNet,
      withRro,
      mountinfo,
    );
    assert.deepEqual(rro.mounts.at(-1)?.options, ['rbind', 'rprivate', 'ro', 'rro']);
  });

  it('refuses recursive read-only on a handler without it rather than making a plain read-only mount', async () => {
    await assert.rejects(
      containerMounts(
        [mount({ host_path: plain, readonly: true, recursive_read_only: true })],
        podNet,
        { recursiveReadOnly: false },
        mountinfo,
      ),
      invalid(/does not support recursive read-only mounts/),
    );
  });

  it('refuses recursive read-only without readonly or with non-private propagation', async () => {
    await assert.rejects(
      containerMounts([mount({ host_path: plain, recursive_read_only: true })], podNet, withRro, mountinfo),
      invalid(/recursive_read_only needs readonly/),
    );
    for (const propagation of [
      MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
      MountPropagation.PROPAGATION_BIDIRECTIONAL,
    ]) {
      await assert.rejects(
        containerMounts(
          [mount({ host_path: shared, readonly: true, recursive_read_only: true, propagation })],
          podNet,
          withRro,
          mountinfo,
        ),
        invalid(/recursive_read_only needs private propagation/),
      );
    }
  });

  it('host-to-container needs a shared or slave source and makes the rootfs rslave', async () => {
    for (const source of [shared, join(shared, 'sub'), slave]) {
      const r = await containerMounts(
        [mount({ host_path: source, propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER })],
        podNet,
        withRro,
        mountinfo,
      );
      assert.deepEqual(r.mounts.at(-1)?.options, ['rbind', 'rslave', 'rw']);
      assert.equal(r.rootfsPropagation, 'rslave');
    }
    await assert.rejects(
      containerMounts(
        [mount({ host_path: plain, propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER })],
        podNet,
        withRro,
        mountinfo,
      ),
      invalid(new RegExp(`needs ${plain} on a shared or slave mount`)),
    );
  });

  it('bidirectional needs a shared source and makes the rootfs rshared', async () => {
    const r = await containerMounts(
      [
        mount({
          host_path: slave,
          container_path: '/in',
          propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
        }),
        mount({
          host_path: shared,
          container_path: '/both',
          propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL,
        }),
      ],
      podNet,
      withRro,
      mountinfo,
    );
    assert.deepEqual(r.mounts.at(-1)?.options, ['rbind', 'rshared', 'rw']);
    assert.equal(r.rootfsPropagation, 'rshared');
    for (const source of [slave, plain]) {
      await assert.rejects(
        containerMounts(
          [mount({ host_path: source, propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL })],
          podNet,
          withRro,
          mountinfo,
        ),
        invalid(/bidirectional propagation needs .* on a shared mount/),
      );
    }
  });

  it('refuses a missing host path (kubelet creates the ones it means)', async () => {
    await assert.rejects(
      containerMounts([mount({ host_path: join(dir, 'gone') })], podNet, withRro, mountinfo),
      invalid(/host_path .*gone does not exist/),
    );
    await assert.rejects(
      containerMounts([mount({ host_path: '' })], podNet, withRro, mountinfo),
      invalid(/no host_path/),
    );
    await assert.rejects(
      containerMounts([mount({ host_path: 'rel' })], podNet, withRro, mountinfo),
      invalid(/not absolute/),
    );
  });

  it('refuses image volumes as Unimplemented', async () => {
    const image = {
      image: 'sha256:abc',
      annotations: {},
      user_specified_image: '',
      runtime_handler: '',
      image_ref: '',
    };
    await assert.rejects(
      containerMounts([mount({ image })], podNet, withRro, mountinfo),
      kind('Unimplemented', /^image volume mounts are not supported$/),
    );
  });

  it('refuses relative or repeated destinations, id mappings and unsafe mount options', async () => {
    await assert.rejects(
      containerMounts([mount({ host_path: plain, container_path: 'data' })], podNet, withRro, mountinfo),
      invalid(/container_path "data" is not absolute/),
    );
    await assert.rejects(
      containerMounts(
        [mount({ host_path: plain, container_path: '/d' }), mount({ host_path: shared, container_path: '/d/' })],
        podNet,
        withRro,
        mountinfo,
      ),
      invalid(/destination \/d is listed twice/),
    );
    await assert.rejects(
      containerMounts(
        [mount({ host_path: plain, uidMappings: [{ host_id: 1000, container_id: 0, length: 1 }] })],
        podNet,
        withRro,
        mountinfo,
      ),
      invalid(/id-mapped/),
    );
    await assert.rejects(
      containerMounts([mount({ host_path: plain, mount_options: ['suid'] })], podNet, withRro, mountinfo),
      invalid(/mount option "suid" is not allowed/),
    );
    const ok = await containerMounts(
      [mount({ host_path: plain, mount_options: ['noexec', 'nosuid'] })],
      podNet,
      withRro,
      mountinfo,
    );
    assert.deepEqual(ok.mounts.at(-1)?.options, ['rbind', 'rprivate', 'rw', 'noexec', 'nosuid']);
  });

  it('lets a request mount of /etc/hosts-like paths replace the pod’s file', async () => {
    const r = await containerMounts(
      [mount({ host_path: plain, container_path: '/etc/resolv.conf' })],
      podNet,
      withRro,
      mountinfo,
    );
    const resolv = r.mounts.filter((m) => m.destination === '/etc/resolv.conf');
    assert.equal(resolv.length, 1);
    assert.equal(resolv[0]?.source, plain);
  });
});

describe('propagation of real mounts', { skip: process.getuid?.() !== 0 ? 'needs root to mount' : false }, () => {
  let dir: string;
  const mounted: string[] = [];
  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'cri-ts-realmnt-')));
  });
  after(async () => {
    for (const m of mounted.reverse()) execFileSync('umount', ['-l', m]);
    await rm(dir, { recursive: true, force: true });
  });

  it('sees a shared bind mount as shared and a private one as private in /proc/self/mountinfo', async () => {
    const shared = join(dir, 'shared');
    const priv = join(dir, 'private');
    for (const d of [shared, priv]) {
      await mkdir(d);
      execFileSync('mount', ['--bind', d, d]);
      mounted.push(d);
    }
    execFileSync('mount', ['--make-shared', shared]);
    execFileSync('mount', ['--make-private', priv]);
    assert.equal(await sourcePropagation(join(shared, 'x')), 'shared');
    assert.equal(await sourcePropagation(priv), 'private');
    const r = await containerMounts(
      [mount({ host_path: shared, propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL })],
      podNet,
      withRro,
    );
    assert.equal(r.rootfsPropagation, 'rshared');
    await assert.rejects(
      containerMounts(
        [mount({ host_path: priv, propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER })],
        podNet,
        withRro,
      ),
      invalid(/shared or slave/),
    );
  });
});
