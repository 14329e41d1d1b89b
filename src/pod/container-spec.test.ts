import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  MountPropagation,
  NamespaceMode,
  SecurityProfile_ProfileType,
  Signal,
  SupplementalGroupsPolicy,
  type ContainerConfig,
  type LinuxContainerSecurityContext,
  type Mount,
  type PodSandboxConfig,
} from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import { ownCapabilities } from '../oci/capabilities.js';
import { ownOomScoreAdj } from '../oci/oom-score-adj.js';
import { buildContainerSpec, type ContainerSpecInput } from './container-spec.js';
import type { SandboxRecord } from './sandbox.js';
import { sandboxPaths } from './sandbox-files.js';

const kind = (k: string, re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === k && re.test(err.message);
const invalid = (re: RegExp) => kind('InvalidArgument', re);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function securityContext(over: Partial<LinuxContainerSecurityContext> = {}): LinuxContainerSecurityContext {
  return {
    capabilities: null,
    privileged: false,
    namespace_options: null,
    selinux_options: null,
    run_as_user: null,
    run_as_group: null,
    run_as_username: '',
    readonly_rootfs: false,
    supplemental_groups: [],
    supplemental_groups_policy: SupplementalGroupsPolicy.Merge,
    no_new_privs: false,
    masked_paths: [],
    readonly_paths: [],
    seccomp: null,
    apparmor: null,
    apparmor_profile: '',
    seccomp_profile_path: '',
    ...over,
  };
}

function containerConfig(
  over: Partial<ContainerConfig> = {},
  sc: Partial<LinuxContainerSecurityContext> | null = {},
): ContainerConfig {
  return {
    metadata: { name: 'web', attempt: 0 },
    image: {
      image: 'sha256:1111',
      annotations: {},
      user_specified_image: 'registry.example/web:1',
      runtime_handler: '',
      image_ref: '',
    },
    command: [],
    args: [],
    working_dir: '',
    envs: [],
    mounts: [],
    devices: [],
    labels: {},
    annotations: {},
    log_path: 'web/0.log',
    stdin: false,
    stdin_once: false,
    tty: false,
    linux: { resources: null, security_context: sc === null ? null : securityContext(sc) },
    windows: null,
    CDI_devices: [],
    stop_signal: Signal.SIGNAL_RUNTIME_DEFAULT,
    ...over,
  };
}

function podConfig(name: string, privileged = false): PodSandboxConfig {
  return {
    metadata: { name, uid: `${name}-uid`, namespace: 'team', attempt: 0 },
    hostname: name,
    log_directory: '/var/log/pods/x',
    dns_config: null,
    port_mappings: [],
    labels: {},
    annotations: {},
    linux: {
      cgroup_parent: '',
      security_context: {
        namespace_options: null,
        selinux_options: null,
        run_as_user: null,
        run_as_group: null,
        readonly_rootfs: false,
        supplemental_groups: [],
        supplemental_groups_policy: SupplementalGroupsPolicy.Merge,
        privileged,
        seccomp: null,
        apparmor: null,
        seccomp_profile_path: '',
      },
      sysctls: {},
      overhead: null,
      resources: null,
    },
    windows: null,
  };
}

const paths = sandboxPaths('/var/lib/cri-ts', '/run/cri-ts', 'sb1');

function sandbox(over: Partial<SandboxRecord> = {}): SandboxRecord {
  return {
    id: 'sb1',
    name: 'k8s_POD_pod_team_pod-uid_0',
    config: podConfig('pod'),
    runtimeHandler: '',
    createdAt: '1',
    state: 'ready',
    hostNetwork: false,
    hostIpc: false,
    hostPid: false,
    namespaces: { net: join(paths.nsDir, 'net'), ipc: join(paths.nsDir, 'ipc'), uts: join(paths.nsDir, 'uts') },
    network: { ip: '10.88.0.2', additionalIps: [], interfaces: [] },
    cgroupParent: '/cri-ts/pod-sb1',
    ownsCgroup: true,
    dir: paths.dir,
    runDir: paths.runDir,
    shmPath: paths.shm,
    hostname: 'pod',
    pause: {
      containerId: 'sb1',
      imageId: 'sha256:p',
      pid: 4242,
      monitorPid: 4241,
      bundle: paths.bundle,
      rootfs: '/r',
    },
    delivered: true,
    ...over,
  };
}

const imageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: {
    User: 'web',
    Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C'],
    Entrypoint: ['/entry.sh'],
    Cmd: ['serve', '--port=80'],
    WorkingDir: '/srv',
    StopSignal: 'SIGQUIT',
  },
};

describe('buildContainerSpec', () => {
  let dir: string;
  let rootfs: string;
  let seccompPath: string;
  let volume: string;
  let input: (over?: Partial<ContainerSpecInput>) => ContainerSpecInput;

  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'cri-ts-cspec-')));
    rootfs = join(dir, 'rootfs');
    await mkdir(join(rootfs, 'etc'), { recursive: true });
    await writeFile(
      join(rootfs, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/srv:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
    );
    await writeFile(
      join(rootfs, 'etc/group'),
      'root:x:0:\nweb:x:1000:\nwww-data:x:33:web\naudio:x:29:web,nobody\n',
    );
    seccompPath = join(dir, 'seccomp.json');
    await writeFile(
      seccompPath,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 38,
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          { names: ['sethostname'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        ],
      }),
    );
    volume = join(dir, 'volume');
    await mkdir(volume);
    input = (over = {}) => ({
      containerId: 'c1',
      config: containerConfig(),
      sandbox: sandbox(),
      sandboxConfig: podConfig('pod'),
      imageConfig,
      rootfs,
      cgroupsPath: '/cri-ts/pod-sb1/cri-ts-c1',
      restrictOomScoreAdj: false,
      seccompDefaultProfile: seccompPath,
      recursiveReadOnlyMounts: true,
      ...over,
    });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds a complete spec from the image and a minimal request', async () => {
    const r = await buildContainerSpec(input());
    const { spec } = r;
    assert.deepEqual(spec.process.args, ['/entry.sh', 'serve', '--port=80']);
    assert.deepEqual(spec.process.env, ['HOSTNAME=pod', 'PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C']);
    assert.deepEqual(r.env, spec.process.env);
    assert.equal(spec.process.cwd, '/srv');
    assert.equal(spec.process.terminal, false);
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [1000, 33, 29] });
    assert.deepEqual(r.user, { uid: 1000, gid: 1000, supplementalGroups: [1000, 33, 29] });
    assert.equal(r.stopSignal, 'SIGQUIT');
    assert.deepEqual(r.mounts, []);
    assert.equal(spec.hostname, 'pod');
    assert.deepEqual(spec.root, { path: rootfs, readonly: false });
    assert.equal(spec.linux.cgroupsPath, '/cri-ts/pod-sb1/cri-ts-c1');
    assert.deepEqual(spec.linux.namespaces, [
      { type: 'mount' },
      { type: 'network', path: join(paths.nsDir, 'net') },
      { type: 'ipc', path: join(paths.nsDir, 'ipc') },
      { type: 'uts', path: join(paths.nsDir, 'uts') },
      { type: 'pid', path: '/proc/4242/ns/pid' },
    ]);
    // The pod's files, at the places sandboxPaths put them.
    const source = (dest: string) => spec.mounts.find((m) => m.destination === dest);
    assert.equal(source('/etc/resolv.conf')?.source, paths.resolvConf);
    assert.ok(source('/etc/resolv.conf')?.options.includes('ro'));
    assert.equal(source('/etc/hostname')?.source, paths.hostnameFile);
    assert.deepEqual(source('/dev/shm'), {
      destination: '/dev/shm',
      type: 'bind',
      source: paths.shm,
      options: ['rbind', 'nosuid', 'nodev', 'noexec', 'rw'],
    });
    assert.equal(
      spec.mounts.filter((m) => m.destination === '/dev/shm').length,
      1,
      'the default tmpfs is replaced',
    );
    assert.ok(source('/proc') !== undefined && source('/sys') !== undefined);
    assert.equal(source('/etc/hosts'), undefined);
    // Security defaults.
    assert.equal(spec.process.capabilities.bounding.length, 9);
    assert.equal(spec.process.noNewPrivileges, false);
    assert.ok(spec.linux.maskedPaths?.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths?.includes('/proc/sys'));
    assert.equal(spec.linux.seccomp, undefined, 'no seccomp requested: unconfined (api.proto)');
    assert.equal(spec.process.apparmorProfile, undefined);
    assert.equal(spec.process.oomScoreAdj, 0);
    assert.equal(spec.linux.rootfsPropagation, undefined);
    assert.deepEqual(spec.annotations, {
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': 'web',
      'io.kubernetes.cri.sandbox-id': 'sb1',
      'io.kubernetes.cri.sandbox-name': 'pod',
      'io.kubernetes.cri.sandbox-namespace': 'team',
      'io.kubernetes.cri.sandbox-uid': 'pod-uid',
      'io.kubernetes.cri.image-name': 'registry.example/web:1',
    });
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
  });

  it('applies the request’s process settings over the image’s', async () => {
    const { spec } = await buildContainerSpec(
      input({
        config: containerConfig({
          command: ['sh', '-c'],
          args: ['echo hi'],
          working_dir: '/tmp',
          envs: [{ key: 'LANG', value: enc('C.UTF-8') }],
          tty: true,
          stop_signal: Signal.SIGNAL_SIGINT,
        }),
      }),
    );
    assert.deepEqual(spec.process.args, ['sh', '-c', 'echo hi']);
    assert.equal(spec.process.cwd, '/tmp');
    assert.equal(spec.process.terminal, true);
    assert.deepEqual(spec.process.env, [
      'HOSTNAME=pod',
      'TERM=xterm',
      'PATH=/usr/local/bin:/usr/bin:/bin',
      'LANG=C.UTF-8',
    ]);
    const r = await buildContainerSpec(input({ config: containerConfig({ stop_signal: Signal.SIGNAL_SIGINT }) }));
    assert.equal(r.stopSignal, 'SIGINT');
  });

  it('resolves the user in the rootfs with the supplemental-groups policy (critest Merge/Strict)', async () => {
    const merge = await buildContainerSpec(
      input({ config: containerConfig({}, { run_as_user: { value: 1000n }, supplemental_groups: [1234n] }) }),
    );
    assert.deepEqual(merge.user, { uid: 1000, gid: 1000, supplementalGroups: [1000, 33, 29, 1234] });
    const strict = await buildContainerSpec(
      input({
        config: containerConfig(
          {},
          {
            run_as_user: { value: 1000n },
            supplemental_groups: [1234n],
            supplemental_groups_policy: SupplementalGroupsPolicy.Strict,
          },
        ),
      }),
    );
    assert.deepEqual(strict.user, { uid: 1000, gid: 1000, supplementalGroups: [1000, 1234] });
    assert.deepEqual(strict.spec.process.user.additionalGids, [1000, 1234]);
    const group = await buildContainerSpec(
      input({ config: containerConfig({}, { run_as_username: 'nobody', run_as_group: { value: 1002n } }) }),
    );
    assert.deepEqual(group.user, { uid: 65534, gid: 1002, supplementalGroups: [1002, 29] });
  });

  it('refuses run_as_group without a user and unknown user names', async () => {
    await assert.rejects(
      buildContainerSpec(input({ config: containerConfig({}, { run_as_group: { value: 1002n } }) })),
      invalid(/run_as_group is set without run_as_user/),
    );
    await assert.rejects(
      buildContainerSpec(input({ config: containerConfig({}, { run_as_username: 'ghost' }) })),
      invalid(/user "ghost"/),
    );
  });

  it('applies the security context: read-only rootfs, no_new_privs, paths, capabilities, seccomp', async () => {
    const { spec } = await buildContainerSpec(
      input({
        config: containerConfig(
          {},
          {
            readonly_rootfs: true,
            no_new_privs: true,
            masked_paths: ['/bin/ls'],
            readonly_paths: ['/tmp'],
            capabilities: {
              add_capabilities: ['SYS_ADMIN'],
              drop_capabilities: ['ALL'],
              add_ambient_capabilities: [],
            },
            seccomp: { profile_type: SecurityProfile_ProfileType.RuntimeDefault, localhost_ref: '' },
          },
        ),
      }),
    );
    assert.equal(spec.root.readonly, true);
    assert.equal(spec.process.noNewPrivileges, true);
    assert.deepEqual(spec.linux.maskedPaths, ['/bin/ls']);
    assert.deepEqual(spec.linux.readonlyPaths, ['/tmp']);
    assert.deepEqual(spec.process.capabilities.bounding, ['CAP_SYS_ADMIN']);
    assert.deepEqual(spec.process.capabilities.effective, ['CAP_SYS_ADMIN']);
    // The default profile was filtered by the container's own capabilities.
    assert.deepEqual(spec.linux.seccomp, {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['sethostname'], action: 'SCMP_ACT_ALLOW' },
      ],
    });
  });

  it(
    'converts the host’s containers-common profile for RuntimeDefault',
    { skip: !existsSync('/usr/share/containers/seccomp.json') },
    async () => {
      const rd = { seccomp: { profile_type: SecurityProfile_ProfileType.RuntimeDefault, localhost_ref: '' } };
      const base = await buildContainerSpec(
        input({ seccompDefaultProfile: '/usr/share/containers/seccomp.json', config: containerConfig({}, rd) }),
      );
      const s = base.spec.linux.seccomp;
      assert.equal(s?.defaultAction, 'SCMP_ACT_ERRNO');
      assert.ok(s.syscalls?.some((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes('read')));
      assert.ok(!s.syscalls?.some((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes('sethostname')));
      const admin = await buildContainerSpec(
        input({
          seccompDefaultProfile: '/usr/share/containers/seccomp.json',
          config: containerConfig(
            {},
            {
              ...rd,
              capabilities: {
                add_capabilities: ['SYS_ADMIN'],
                drop_capabilities: [],
                add_ambient_capabilities: [],
              },
            },
          ),
        }),
      );
      assert.ok(
        admin.spec.linux.seccomp?.syscalls?.some(
          (r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes('sethostname'),
        ),
      );
    },
  );

  it("falls back to cri-ts's own deny list when the profile file is missing", async () => {
    const { spec } = await buildContainerSpec(
      input({
        seccompDefaultProfile: join(dir, 'no-such-seccomp.json'),
        config: containerConfig({}, { seccomp_profile_path: 'runtime/default' }),
      }),
    );
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ALLOW');
    assert.ok(
      spec.linux.seccomp.syscalls?.some((r) => r.names.includes('init_module') && r.action === 'SCMP_ACT_ERRNO'),
    );
  });

  it('puts ambient capabilities in the inheritable and ambient sets', async () => {
    const { spec } = await buildContainerSpec(
      input({
        config: containerConfig(
          {},
          {
            capabilities: {
              add_capabilities: [],
              drop_capabilities: [],
              add_ambient_capabilities: ['NET_BIND_SERVICE'],
            },
          },
        ),
      }),
    );
    assert.deepEqual(spec.process.capabilities.ambient, ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(spec.process.capabilities.inheritable, ['CAP_NET_BIND_SERVICE']);
  });

  it('refuses an AppArmor profile on this AppArmor-less node and user namespaces', async () => {
    await assert.rejects(
      buildContainerSpec(
        input({
          config: containerConfig(
            {},
            { apparmor: { profile_type: SecurityProfile_ProfileType.Localhost, localhost_ref: 'deny-write' } },
          ),
        }),
      ),
      invalid(/AppArmor is not enabled/),
    );
    const userns = { mode: NamespaceMode.POD, uids: [], gids: [] };
    const options = { network: 0, pid: 0, ipc: 0, target_id: '', userns_options: userns } as const;
    await assert.rejects(
      buildContainerSpec(input({ config: containerConfig({}, { namespace_options: options }) })),
      invalid(/^user namespaces are not supported$/),
    );
    const pod = podConfig('pod');
    const psc = pod.linux?.security_context;
    assert.ok(psc !== null && psc !== undefined);
    psc.namespace_options = options;
    await assert.rejects(
      buildContainerSpec(input({ sandboxConfig: pod })),
      invalid(/^user namespaces are not supported$/),
    );
  });

  it('refuses a privileged container in a pod that was not created privileged', async () => {
    await assert.rejects(
      buildContainerSpec(input({ config: containerConfig({}, { privileged: true }) })),
      invalid(/sandbox sb1 was not created privileged/),
    );
    // What the request claims about the pod does not matter; the stored config does.
    await assert.rejects(
      buildContainerSpec(
        input({ sandboxConfig: podConfig('pod', true), config: containerConfig({}, { privileged: true }) }),
      ),
      invalid(/not created privileged/),
    );
  });

  it('makes privileged containers privileged: all the daemon’s caps, host devices, no seccomp or masking', async () => {
    const blockHostname = join(dir, 'block-hostname.json');
    await writeFile(
      blockHostname,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }],
      }),
    );
    const { spec } = await buildContainerSpec(
      input({
        sandbox: sandbox({ config: podConfig('pod', true) }),
        config: containerConfig(
          { devices: [{ host_path: '/dev/null', container_path: '/dev/mynull', permissions: 'rw' }] },
          {
            privileged: true,
            masked_paths: ['/proc/kcore'],
            seccomp: { profile_type: SecurityProfile_ProfileType.Localhost, localhost_ref: blockHostname },
          },
        ),
      }),
    );
    assert.deepEqual(spec.process.capabilities.bounding, ownCapabilities());
    assert.equal(spec.linux.seccomp, undefined);
    assert.equal(spec.linux.maskedPaths, undefined);
    assert.equal(spec.linux.readonlyPaths, undefined);
    assert.deepEqual(spec.linux.resources?.devices?.[0], { allow: true, access: 'rwm' });
    const devices = spec.linux.devices ?? [];
    assert.ok(devices.some((d) => d.path === '/dev/null' && d.major === 1 && d.minor === 3));
    assert.ok(devices.some((d) => d.path === '/dev/mynull'));
    assert.ok(!spec.mounts.find((m) => m.destination === '/sys')?.options.includes('ro'));
  });

  it('passes devices with cgroup rules and resources with a clamped oom_score_adj', async () => {
    const { spec } = await buildContainerSpec(
      input({
        restrictOomScoreAdj: true,
        pidsLimit: 2048,
        config: containerConfig({
          devices: [{ host_path: '/dev/zero', container_path: '/dev/z', permissions: 'r' }],
          linux: {
            security_context: null,
            resources: {
              cpu_period: 100000n,
              cpu_quota: 20000n,
              cpu_shares: 256n,
              memory_limit_in_bytes: 15728640n,
              oom_score_adj: -1000n,
              cpuset_cpus: '0',
              cpuset_mems: '',
              hugepage_limits: [],
              unified: {},
              memory_swap_limit_in_bytes: 15728640n,
            },
          },
        }),
      }),
    );
    assert.deepEqual(spec.linux.devices, [
      { path: '/dev/z', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
    ]);
    assert.deepEqual(spec.linux.resources?.devices?.at(-1), {
      allow: true,
      type: 'c',
      major: 1,
      minor: 5,
      access: 'r',
    });
    assert.deepEqual(spec.linux.resources.cpu, { shares: 256, quota: 20000, period: 100000, cpus: '0' });
    assert.deepEqual(spec.linux.resources.memory, { limit: 15728640, swap: 15728640 });
    assert.deepEqual(spec.linux.resources.pids, { limit: 2048 });
    assert.equal(spec.process.oomScoreAdj, Math.max(-1000, ownOomScoreAdj()));
  });

  it('mounts the request’s volumes and reports them as requested', async () => {
    const requested: Mount = {
      container_path: '/data',
      host_path: volume,
      readonly: true,
      selinux_relabel: true,
      propagation: MountPropagation.PROPAGATION_PRIVATE,
      uidMappings: [],
      gidMappings: [],
      recursive_read_only: false,
      image: null,
      image_sub_path: '',
      mount_options: [],
    };
    const hosts = { ...requested, container_path: '/etc/hosts', host_path: join(dir, 'rootfs/etc/passwd') };
    const r = await buildContainerSpec(input({ config: containerConfig({ mounts: [requested, hosts] }) }));
    assert.deepEqual(r.mounts, [requested, hosts]);
    assert.deepEqual(
      r.spec.mounts.find((m) => m.destination === '/data'),
      { destination: '/data', type: 'bind', source: volume, options: ['rbind', 'rprivate', 'ro'] },
    );
    await assert.rejects(
      buildContainerSpec(
        input({
          config: containerConfig({
            mounts: [
              {
                ...requested,
                host_path: '',
                image: {
                  image: 'sha256:2',
                  annotations: {},
                  user_specified_image: '',
                  runtime_handler: '',
                  image_ref: '',
                },
              },
            ],
          }),
        }),
      ),
      kind('Unimplemented', /image volume mounts are not supported/),
    );
  });

  it('uses the host’s namespaces, /dev/shm and /etc/hosts for a host-network, host-IPC, host-PID pod', async () => {
    const { spec } = await buildContainerSpec(
      input({
        sandbox: sandbox({
          hostNetwork: true,
          hostIpc: true,
          hostPid: true,
          namespaces: {},
          shmPath: '',
          hostname: 'node1',
        }),
      }),
    );
    assert.deepEqual(spec.linux.namespaces, [{ type: 'mount' }]);
    assert.equal(spec.hostname, undefined);
    assert.ok(spec.process.env.includes('HOSTNAME=node1'));
    assert.equal(spec.mounts.find((m) => m.destination === '/dev/shm')?.source, '/dev/shm');
    assert.equal(spec.mounts.find((m) => m.destination === '/etc/hosts')?.source, '/etc/hosts');
  });

  it('joins a target container’s pid namespace and a new one for CONTAINER', async () => {
    const opts = (pid: NamespaceMode) =>
      ({ network: 0, pid, ipc: 0, target_id: 'c0', userns_options: null }) as const;
    const target = await buildContainerSpec(
      input({ targetPid: 999, config: containerConfig({}, { namespace_options: opts(NamespaceMode.TARGET) }) }),
    );
    assert.deepEqual(target.spec.linux.namespaces.at(-1), { type: 'pid', path: '/proc/999/ns/pid' });
    const own = await buildContainerSpec(
      input({ config: containerConfig({}, { namespace_options: opts(NamespaceMode.CONTAINER) }) }),
    );
    assert.deepEqual(own.spec.linux.namespaces.at(-1), { type: 'pid' });
  });

  it('names the pod from the request’s sandbox config, else the stored one', async () => {
    const fromRequest = await buildContainerSpec(input({ sandboxConfig: podConfig('other') }));
    assert.equal(fromRequest.spec.annotations?.['io.kubernetes.cri.sandbox-name'], 'other');
    const fromStore = await buildContainerSpec(input({ sandboxConfig: null }));
    assert.equal(fromStore.spec.annotations?.['io.kubernetes.cri.sandbox-name'], 'pod');
    assert.equal(fromStore.spec.annotations['io.kubernetes.cri.sandbox-uid'], 'pod-uid');
  });

  it('works without any linux section or image config', async () => {
    const r = await buildContainerSpec(
      input({ imageConfig: {}, config: containerConfig({ command: ['/bin/true'], linux: null }) }),
    );
    assert.deepEqual(r.spec.process.args, ['/bin/true']);
    assert.deepEqual(r.user, { uid: 0, gid: 0, supplementalGroups: [0] });
    assert.equal(r.spec.process.cwd, '/');
    assert.equal(r.stopSignal, 'SIGTERM');
  });
});
