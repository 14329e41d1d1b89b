import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capabilitiesFromMask, ownCapabilities } from './capabilities.js';
import { buildSpec, clampOomScoreAdj, ownOomScoreAdj, type SpecInput } from './spec.js';

const base: SpecInput = {
  args: ['/pause'],
  env: ['FOO=bar'],
  cwd: '/',
  user: { uid: 0, gid: 0 },
  terminal: false,
  rootfs: '/run/cri-ts/pods/p1/rootfs',
  rootfsReadonly: true,
  namespaces: [
    { type: 'mount' },
    { type: 'network', path: '/run/netns/p1' },
    { type: 'uts' },
    { type: 'ipc' },
    { type: 'pid' },
  ],
};

describe('buildSpec', () => {
  it('builds a complete unprivileged spec with the default mounts, paths and devices', () => {
    const spec = buildSpec({ ...base, hostname: 'pod1', cgroupsPath: '/cri-ts/pod1/ctr1' });
    assert.equal(spec.ociVersion, '1.0.2');
    assert.deepEqual(spec.root, { path: '/run/cri-ts/pods/p1/rootfs', readonly: true });
    assert.equal(spec.hostname, 'pod1');
    assert.deepEqual(spec.process.args, ['/pause']);
    assert.equal(spec.process.env[0], 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.ok(spec.process.env.includes('FOO=bar'));
    assert.deepEqual(spec.process.user, { uid: 0, gid: 0 });
    assert.equal(spec.process.noNewPrivileges, false);
    assert.equal(spec.process.oomScoreAdj, undefined);
    assert.deepEqual(
      spec.mounts.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup'],
    );
    assert.ok(spec.mounts.find((m) => m.destination === '/sys')?.options.includes('ro'));
    assert.ok(spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options.includes('ro'));
    assert.equal(spec.mounts.find((m) => m.destination === '/dev')?.type, 'tmpfs');
    assert.deepEqual(spec.linux.namespaces[1], { type: 'network', path: '/run/netns/p1' });
    assert.deepEqual(spec.linux.namespaces[0], { type: 'mount' });
    assert.equal(spec.linux.cgroupsPath, '/cri-ts/pod1/ctr1');
    assert.ok(spec.linux.maskedPaths?.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths?.includes('/proc/sys'));
    const rules = spec.linux.resources?.devices ?? [];
    assert.deepEqual(rules[0], { allow: false, access: 'rwm' });
    assert.ok(
      rules.some((r) => r.allow && r.major === 1 && r.minor === 3),
      '/dev/null is allowed',
    );
    assert.deepEqual(spec.process.capabilities.bounding, [
      'CAP_CHOWN',
      'CAP_DAC_OVERRIDE',
      'CAP_FSETID',
      'CAP_FOWNER',
      'CAP_SETGID',
      'CAP_SETUID',
      'CAP_SETPCAP',
      'CAP_NET_BIND_SERVICE',
      'CAP_KILL',
    ]);
    assert.deepEqual(spec.process.capabilities.inheritable, []);
    assert.equal(spec.linux.seccomp, undefined);
    assert.equal(spec.annotations, undefined);
    // Plain JSON: what is written is what is read back.
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
  });

  it('gives privileged containers the daemon capabilities, all devices, writable /sys and no masking', () => {
    const spec = buildSpec({ ...base, privileged: true, capabilities: ['CHOWN'], maskedPaths: ['/proc/kcore'] });
    assert.deepEqual(spec.process.capabilities.bounding, ownCapabilities());
    assert.deepEqual(spec.process.capabilities.effective, ownCapabilities());
    assert.deepEqual(spec.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
    assert.equal(spec.mounts.find((m) => m.destination === '/sys')?.options.includes('ro'), false);
    assert.equal(spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options.includes('ro'), false);
    assert.equal(spec.linux.maskedPaths, undefined);
    assert.equal(spec.linux.readonlyPaths, undefined);
  });

  it('normalises and de-duplicates requested capabilities', () => {
    const spec = buildSpec({ ...base, capabilities: ['net_raw', 'CAP_NET_RAW', 'sys_admin'] });
    assert.deepEqual(spec.process.capabilities.permitted, ['CAP_NET_RAW', 'CAP_SYS_ADMIN']);
  });

  it('lets caller mounts replace defaults and orders them parents first', () => {
    const spec = buildSpec({
      ...base,
      mounts: [
        { destination: '/etc/hosts/', type: 'bind', source: '/run/p1/hosts', options: ['rbind', 'ro'] },
        { destination: '/dev/shm', type: 'bind', source: '/run/p1/shm', options: ['rbind'] },
        { destination: '/data/sub', type: 'bind', source: '/srv/b', options: ['rbind'] },
        { destination: '/data', type: 'bind', source: '/srv/a', options: ['rbind'] },
      ],
    });
    const dests = spec.mounts.map((m) => m.destination);
    assert.equal(dests.filter((d) => d === '/dev/shm').length, 1);
    assert.equal(spec.mounts.find((m) => m.destination === '/dev/shm')?.source, '/run/p1/shm');
    assert.ok(dests.indexOf('/data') < dests.indexOf('/data/sub'));
    assert.ok(dests.includes('/etc/hosts'), 'trailing slash removed');
  });

  it('maps resources, keeping unset ones out', () => {
    const spec = buildSpec({
      ...base,
      resources: {
        cpuShares: 512,
        cpuQuota: 50_000,
        cpuPeriod: 100_000,
        memoryLimit: 64 << 20,
        pidsLimit: 100,
        cpusetCpus: '',
      },
    });
    const r = spec.linux.resources;
    assert.deepEqual(r?.cpu, { shares: 512, quota: 50_000, period: 100_000 });
    assert.deepEqual(r.memory, { limit: 64 << 20 });
    assert.deepEqual(r.pids, { limit: 100 });
    assert.equal(r.hugepageLimits, undefined);
    assert.equal(r.unified, undefined);
  });

  it('carries seccomp, sysctls, annotations, rlimits and explicit path lists', () => {
    const spec = buildSpec({
      ...base,
      seccomp: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] },
      sysctls: { 'net.ipv4.ip_forward': '1' },
      annotations: { 'io.kubernetes.cri.sandbox-id': 'p1' },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      maskedPaths: [],
      readonlyPaths: ['/proc/sys'],
      noNewPrivileges: true,
      user: { uid: 1000, gid: 1000, additionalGids: [10, 20] },
    });
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(spec.linux.sysctl, { 'net.ipv4.ip_forward': '1' });
    assert.deepEqual(spec.annotations, { 'io.kubernetes.cri.sandbox-id': 'p1' });
    assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    assert.deepEqual(spec.linux.maskedPaths, []);
    assert.deepEqual(spec.linux.readonlyPaths, ['/proc/sys']);
    assert.equal(spec.process.noNewPrivileges, true);
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [10, 20] });
  });

  it('clamps oom_score_adj only when told to', () => {
    const own = ownOomScoreAdj();
    assert.equal(
      buildSpec({ ...base, oomScoreAdj: -998, restrictOomScoreAdj: true }).process.oomScoreAdj,
      Math.max(-998, own),
    );
    assert.equal(buildSpec({ ...base, oomScoreAdj: -998 }).process.oomScoreAdj, -998);
    assert.equal(buildSpec({ ...base, oomScoreAdj: 1000, restrictOomScoreAdj: true }).process.oomScoreAdj, 1000);
  });

  it('refuses specs no runtime would run', () => {
    assert.throws(() => buildSpec({ ...base, args: [] }), { kind: 'InvalidArgument' });
    assert.throws(() => buildSpec({ ...base, cwd: 'tmp' }), { kind: 'InvalidArgument' });
    assert.throws(
      () => buildSpec({ ...base, namespaces: [{ type: 'mount' }, { type: 'mount' }] }),
      /listed twice/,
    );
    assert.throws(
      () => buildSpec({ ...base, namespaces: [{ type: 'mount' }], hostname: 'x' }),
      /needs a uts namespace/,
    );
    assert.throws(
      () => buildSpec({ ...base, mounts: [{ destination: 'rel', type: 'bind', source: '/x', options: [] }] }),
      /not absolute/,
    );
  });
});

describe('clampOomScoreAdj', () => {
  it('raises values below the daemon own score and leaves the rest', () => {
    assert.equal(clampOomScoreAdj(-998, true, 0), 0);
    assert.equal(clampOomScoreAdj(-998, true, -500), -500);
    assert.equal(clampOomScoreAdj(-100, true, -500), -100);
    assert.equal(clampOomScoreAdj(500, true, 0), 500);
    assert.equal(clampOomScoreAdj(-998, false, 0), -998);
    assert.throws(() => clampOomScoreAdj(-1001, true, 0), { kind: 'InvalidArgument' });
  });

  it('reads the daemon own value by default', () => {
    assert.equal(clampOomScoreAdj(-1000, true), Math.max(-1000, ownOomScoreAdj()));
  });
});

describe('capabilities', () => {
  it('decodes a capability mask; this machine lacks CAP_SYS_RESOURCE', () => {
    const caps = capabilitiesFromMask('000001fffeffffff');
    assert.equal(caps.length, 40);
    assert.ok(!caps.includes('CAP_SYS_RESOURCE'));
    assert.ok(caps.includes('CAP_SYS_ADMIN') && caps.includes('CAP_CHECKPOINT_RESTORE'));
    assert.deepEqual(capabilitiesFromMask('0000000000000001'), ['CAP_CHOWN']);
  });
});
