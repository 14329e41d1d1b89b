// Pod sandboxes end to end: the real daemon with runc, conmon and the CNI plugins (bridge, host-local, loopback,
// portmap) on a test subnet and bridge of its own; connections only to 127.0.0.1 and to the pods it made.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { status as grpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { buildLayer } from '../fixtures/layer-builder.js';
import { restoreHostNetwork, snapshotHostNetwork, type HostNetworkSnapshot } from '../fixtures/host-network.js';
import { repoRoot, TestDaemon, unary } from './harness.js';
import { LocalRegistry } from './registry/local-registry.js';

const run = promisify(execFile);
const crictl = join(repoRoot, '.tools/bin/crictl');
const tag = randomBytes(3).toString('hex');
const bridge = `critb${tag}`;
const subnet = `10.199.${String(100 + (parseInt(tag, 16) % 100))}`;

interface Status {
  id: string;
  state: number;
  created_at: bigint;
  network: { ip: string };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
}

function podConfig(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, attempt: 0 },
    labels: { app: name, tier: 'test' },
    annotations: { 'example.com/note': `pod ${name}`, 'multi/line': 'a\nb' },
    ...extra,
  };
}

/** A TCP listener inside a network namespace (Node itself, run there with nsenter) answering one connection. */
function listenIn(netns: string, port: number): Promise<{ stop: () => void }> {
  const script = `require('net').createServer((s) => { s.end('hello from ' + ${port}); }).listen(${port}, '0.0.0.0', () => console.log('ready'))`;
  const proc = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.stdout.once('data', () => resolve({ stop: () => proc.kill('SIGKILL') }));
    proc.once('exit', (code) => reject(new Error(`listener exited ${String(code)}`)));
  });
}

function fetchTcp(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, timeout: 5000 });
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    sock.on('end', () => resolve(data));
    sock.on('timeout', () => sock.destroy(new Error(`timeout connecting to ${host}:${String(port)}`)));
    sock.on('error', reject);
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

describe('pod sandboxes with runc, conmon and CNI', () => {
  let daemon: TestDaemon;
  let registry: LocalRegistry;
  let rt: Client;
  let net: HostNetworkSnapshot;
  const pluginDir = () => join(daemon.dir, 'plugins');

  const runp = (config: Record<string, unknown>, handler = '', deadlineMs?: number) =>
    unary<{ pod_sandbox_id: string }>(
      rt,
      'RunPodSandbox',
      { config, runtime_handler: handler },
      deadlineMs === undefined ? {} : { deadlineMs },
    );
  const podStatus = async (id: string) =>
    await unary<{ status: Status; info: Record<string, string> }>(rt, 'PodSandboxStatus', {
      pod_sandbox_id: id,
      verbose: true,
    });
  const stopp = (id: string) => unary(rt, 'StopPodSandbox', { pod_sandbox_id: id });
  const rmp = (id: string) => unary(rt, 'RemovePodSandbox', { pod_sandbox_id: id });
  const pausePid = async (id: string) =>
    (JSON.parse((await podStatus(id)).info['info'] ?? '{}') as { pid: number }).pid;
  const nsDir = (id: string) => join(daemon.dir, 'run', 'ns', id);

  /** Nothing of the sandbox is left: namespaces, mounts, cgroup, process, CNI cache, state. */
  async function assertGone(id: string, pid: number): Promise<void> {
    assert.equal(await exists(nsDir(id)), false, 'pinned namespaces removed');
    assert.equal(await exists(join(daemon.dir, 'run', 'sandboxes', id)), false, 'run dir removed');
    assert.equal(await exists(join(daemon.dir, 'root', 'sandboxes', id)), false, 'record removed');
    assert.equal(await exists(join(daemon.dir, 'root', 'cni', `${id}.json`)), false, 'CNI cache removed');
    assert.equal(await exists(`/sys/fs/cgroup/memory/cri-ts/pod-${id}`), false, 'pod cgroup removed');
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(id), 'no mount of the sandbox remains');
    if (pid > 0) {
      const st = await readFile(`/proc/${String(pid)}/stat`, 'utf8').catch(() => '');
      assert.ok(st === '' || / Z /.test(st), 'the pause process is gone');
    }
  }

  before(async () => {
    net = await snapshotHostNetwork();
    registry = await LocalRegistry.start({ kind: 'none' });
    const pause = buildLayer([
      { type: 'file', name: 'pause', data: await readFile('/usr/bin/catatonit'), mode: 0o755 },
    ]);
    await registry.pushImage('infra/pause', '3.10', {
      config: {
        architecture: 'amd64',
        os: 'linux',
        config: { Entrypoint: ['/pause', '-P'], User: '65535:65535' },
        rootfs: { type: 'layers', diff_ids: [pause.diffId] },
      },
      layers: [{ data: pause.blob, mediaType: pause.mediaType }],
    });
    daemon = await TestDaemon.create();
    await mkdir(join(daemon.dir, 'plugins'));
    await writeFile(
      join(daemon.cniDir, '50-test.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `crits-${tag}`,
        plugins: [
          {
            type: 'bridge',
            bridge,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            // No default route: pods reach their subnet and the host's bridge address, nothing beyond.
            ipam: {
              type: 'host-local',
              dataDir: join(daemon.dir, 'ipam'),
              ranges: [[{ subnet: `${subnet}.0/24` }]],
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    const conf = join(daemon.dir, 'registries.conf');
    await writeFile(
      conf,
      `[[registry]]\nprefix = "${registry.host}"\nlocation = "${registry.host}"\ninsecure = true\n`,
    );
    await daemon.start({
      args: [
        '--registries-conf',
        conf,
        '--pause-image',
        `${registry.host}/infra/pause:3.10`,
        '--cni-plugin-dir',
        '/usr/lib/cni',
        '--cni-plugin-dir',
        join(daemon.dir, 'plugins'),
      ],
      configToml: '[runtimes.broken]\nruntime_path = "/bin/false"\n',
    });
    rt = daemon.runtime();
  });

  after(async () => {
    rt.close();
    await daemon.cleanup();
    await registry.stop();
    await restoreHostNetwork(net, [bridge]);
  });

  it('runs a pod: pause under conmon, pinned namespaces, DNS, hostname, sysctls, nested cgroup, metadata kept', async () => {
    const config = podConfig('web', {
      hostname: 'web-host',
      dns_config: { servers: ['10.10.10.10'], searches: ['example.com'], options: ['ndots:8'] },
      linux: {
        sysctls: { 'net.ipv4.ip_unprivileged_port_start': '53', 'kernel.shmmax': '68719476736' },
        resources: { memory_limit_in_bytes: 256 * 1024 * 1024, cpu_shares: 512 },
      },
    });
    const { pod_sandbox_id: id } = await runp(config);
    const { status } = await podStatus(id);
    assert.equal(status.state, 0, 'SANDBOX_READY');
    assert.ok(status.created_at > BigInt(Date.now() - 60_000) * 1_000_000n, 'created_at in nanoseconds');
    assert.match(status.network.ip, new RegExp(`^${subnet.replace(/\./g, '\\.')}\\.\\d+$`));
    assert.deepEqual(status.labels, config['labels']);
    assert.deepEqual(status.annotations, config['annotations']);
    assert.equal(status.runtime_handler, 'runc');

    const pid = await pausePid(id);
    assert.match(await readFile(`/proc/${String(pid)}/cmdline`, 'utf8'), /^\/pause\0-P\0/);
    const verbose = JSON.parse((await podStatus(id)).info['info'] ?? '{}') as {
      runtimeSpec?: { annotations: Record<string, string> };
    };
    assert.equal(verbose.runtimeSpec?.annotations['io.kubernetes.cri.container-type'], 'sandbox');
    const resolv = await readFile(`/proc/${String(pid)}/root/etc/resolv.conf`, 'utf8');
    assert.equal(resolv, 'nameserver 10.10.10.10\nsearch example.com\noptions ndots:8\n');
    assert.equal(await readFile(`/proc/${String(pid)}/root/etc/hostname`, 'utf8'), 'web-host\n');
    const netns = join(nsDir(id), 'net');
    assert.equal(
      (await stat(`/proc/${String(pid)}/ns/net`)).ino,
      (await stat(netns)).ino,
      'pause joined the pinned netns',
    );
    const sysctl = await run('nsenter', [
      `--net=${netns}`,
      'cat',
      '/proc/sys/net/ipv4/ip_unprivileged_port_start',
    ]);
    assert.equal(sysctl.stdout.trim(), '53');
    const shmmax = await run('nsenter', [`--ipc=${join(nsDir(id), 'ipc')}`, 'cat', '/proc/sys/kernel/shmmax']);
    assert.equal(shmmax.stdout.trim(), '68719476736');

    const cgroup = await readFile(`/proc/${String(pid)}/cgroup`, 'utf8');
    assert.match(
      cgroup,
      new RegExp(`:memory:/cri-ts/pod-${id}/cri-ts-${id}$`, 'm'),
      'pause nests under the pod cgroup',
    );
    const podMem = `/sys/fs/cgroup/memory/cri-ts/pod-${id}`;
    assert.equal(
      (await readFile(join(podMem, 'memory.limit_in_bytes'), 'utf8')).trim(),
      String(256 * 1024 * 1024),
    );
    assert.equal((await readFile(`/sys/fs/cgroup/cpu/cri-ts/pod-${id}/cpu.shares`, 'utf8')).trim(), '512');

    await stopp(id);
    assert.equal((await podStatus(id)).status.state, 1, 'SANDBOX_NOTREADY');
    await stopp(id);
    await rmp(id);
    await rmp(id);
    await assertGone(id, pid);
    await rejectsWith(podStatus(id), grpcStatus.NOT_FOUND);
  });

  it('connects host to pod and pod to pod over the bridge, and maps a host port', async () => {
    const a = (
      await runp(
        podConfig('a', { port_mappings: [{ protocol: 0, container_port: 8080, host_port: 18080, host_ip: '' }] }),
      )
    ).pod_sandbox_id;
    const b = (await runp(podConfig('b'))).pod_sandbox_id;
    const ipA = (await podStatus(a)).status.network.ip;
    const listener = await listenIn(join(nsDir(a), 'net'), 8080);
    try {
      assert.equal(await fetchTcp(ipA, 8080), 'hello from 8080', 'host to pod');
      const fromB = await run('nsenter', [
        `--net=${join(nsDir(b), 'net')}`,
        process.execPath,
        '-e',
        `const s=require('net').connect(8080,'${ipA}');let d='';s.on('data',x=>d+=x);s.on('end',()=>console.log(d))`,
      ]);
      assert.equal(fromB.stdout.trim(), 'hello from 8080', 'pod to pod');
      assert.equal(await fetchTcp('127.0.0.1', 18080), 'hello from 8080', 'host port on localhost');
    } finally {
      listener.stop();
    }
    for (const id of [a, b]) await rmp(id);
    await rejectsWith(fetchTcp('127.0.0.1', 18080), undefined);
  });

  it('filters the pause container with the RuntimeDefault seccomp profile, and applies resource updates to the pod cgroup', async () => {
    const confined = (
      await runp(podConfig('seccomp', { linux: { security_context: { seccomp: { profile_type: 0 } } } }))
    ).pod_sandbox_id;
    const open = (
      await runp(podConfig('unconfined', { linux: { security_context: { seccomp: { profile_type: 1 } } } }))
    ).pod_sandbox_id;
    const seccompMode = async (id: string) =>
      /^Seccomp:\s+(\d)/m.exec(await readFile(`/proc/${String(await pausePid(id))}/status`, 'utf8'))?.[1];
    assert.equal(await seccompMode(confined), '2', 'filter mode');
    assert.equal(await seccompMode(open), '0', 'unconfined');
    await unary(rt, 'UpdatePodSandboxResources', {
      pod_sandbox_id: confined,
      resources: { memory_limit_in_bytes: 300 * 1024 * 1024 },
    });
    assert.equal(
      (await readFile(`/sys/fs/cgroup/memory/cri-ts/pod-${confined}/memory.limit_in_bytes`, 'utf8')).trim(),
      String(300 * 1024 * 1024),
    );
    for (const id of [confined, open]) await rmp(id);
  });

  it('runs a host-network pod in the host namespaces without an IP of its own', async () => {
    const { pod_sandbox_id: id } = await runp(
      podConfig('hostnet', { linux: { security_context: { namespace_options: { network: 2, pid: 1, ipc: 0 } } } }),
    );
    const { status } = await podStatus(id);
    assert.equal(status.network.ip, '');
    const pid = await pausePid(id);
    assert.equal((await stat(`/proc/${String(pid)}/ns/net`)).ino, (await stat('/proc/self/ns/net')).ino);
    await rmp(id);
    await assertGone(id, pid);
  });

  it('runs a pod with the crun handler, its pause in the pod cgroup', async () => {
    const { pod_sandbox_id: id } = await runp(podConfig('crun-pod'), 'crun');
    const { status } = await podStatus(id);
    assert.equal(status.runtime_handler, 'crun');
    const pid = await pausePid(id);
    assert.match(
      await readFile(`/proc/${String(pid)}/cgroup`, 'utf8'),
      new RegExp(`:memory:/cri-ts/pod-${id}/cri-ts-${id}$`, 'm'),
    );
    const crunState = await run('crun', ['--root', join(daemon.dir, 'run', 'crun'), 'state', id]);
    assert.equal((JSON.parse(crunState.stdout) as { status: string }).status, 'running');
    await rmp(id);
    await assertGone(id, pid);
  });

  it('returns a parked sandbox to the kubelet retry, and refuses a true duplicate', async () => {
    const config = podConfig('retry');
    // The client gives up while the sandbox is being created; the creation finishes and waits for the retry.
    await assert.rejects(runp(config, '', 40), (err: ServiceError) => err.code === grpcStatus.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 1500));
    const retried = (await runp(config)).pod_sandbox_id;
    assert.match(daemon.logs, /Returning a sandbox whose creation finished after its client left/);
    const list = await unary<{ items: { id: string; metadata: { name: string } }[] }>(rt, 'ListPodSandbox', {});
    assert.deepEqual(
      list.items.filter((p) => p.metadata.name === 'retry').map((p) => p.id),
      [retried],
    );
    await rejectsWith(runp(config), grpcStatus.ALREADY_EXISTS, /retry/);
    await rmp(retried);
  });

  it('rolls back every step when the network or the runtime fails', async () => {
    const before = await readdir(join(daemon.dir, 'run', 'ns')).catch(() => []);
    // A CNI plugin that fails, in a network config that sorts first.
    await writeFile(
      join(pluginDir(), 'failplug'),
      '#!/bin/sh\necho \'{"cniVersion":"1.0.0","code":100,"msg":"injected failure","details":"by the test"}\'\nexit 1\n',
    );
    await chmod(join(pluginDir(), 'failplug'), 0o755);
    await writeFile(
      join(daemon.cniDir, '00-fail.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'fail', plugins: [{ type: 'failplug' }] }),
    );
    try {
      await rejectsWith(runp(podConfig('cni-fails')), undefined, /injected failure/);
    } finally {
      await rm(join(daemon.cniDir, '00-fail.conflist'));
    }
    await rejectsWith(runp(podConfig('runtime-fails'), 'broken'), undefined, /create failed|false/);
    await rejectsWith(
      runp(podConfig('unknown-handler'), 'no-such-handler'),
      grpcStatus.INVALID_ARGUMENT,
      /no-such-handler/,
    );
    await rejectsWith(
      runp(podConfig('bad-sysctl', { linux: { sysctls: { 'kernel.hostname': 'x' } } })),
      grpcStatus.INVALID_ARGUMENT,
      /kernel\.hostname/,
    );
    assert.deepEqual(await readdir(join(daemon.dir, 'run', 'ns')).catch(() => []), before, 'no namespaces left');
    assert.deepEqual(await readdir(join(daemon.dir, 'run', 'sandboxes')).catch(() => []), []);
    assert.deepEqual(await readdir(join(daemon.dir, 'root', 'sandboxes')).catch(() => []), []);
    assert.ok(
      !(await readFile('/proc/self/mountinfo', 'utf8')).includes(join(daemon.dir, 'run')),
      'no mounts left',
    );
    const pods = await readdir('/sys/fs/cgroup/memory/cri-ts').catch(() => []);
    assert.deepEqual(
      pods.filter((n) => n.startsWith('pod-')),
      [],
      'no pod cgroups left',
    );
  });

  it('creates and removes 20 pods concurrently, leaking nothing', async () => {
    const ids = (
      await Promise.all(Array.from({ length: 20 }, (_, i) => runp(podConfig(`many-${String(i)}`))))
    ).map((r) => r.pod_sandbox_id);
    const pids = await Promise.all(ids.map(pausePid));
    assert.equal(
      new Set((await Promise.all(ids.map(podStatus))).map((s) => s.status.network.ip)).size,
      20,
      'distinct IPs',
    );
    await Promise.all(ids.map(rmp));
    for (const [i, id] of ids.entries()) await assertGone(id, pids[i] ?? 0);
    assert.deepEqual(
      await readdir(join(daemon.dir, 'ipam', `crits-${tag}`)).then((f) => f.filter((n) => n.startsWith(subnet))),
      [],
    );
  });

  it('keeps a pod running across a daemon restart and removes it afterwards', async () => {
    const { pod_sandbox_id: id } = await runp(podConfig('survivor'));
    const pid = await pausePid(id);
    daemon.signal('SIGKILL');
    await daemon.waitExit();
    assert.ok(await exists(`/proc/${String(pid)}`), 'the pause container outlives the daemon');
    await daemon.start({
      args: [
        '--registries-conf',
        join(daemon.dir, 'registries.conf'),
        '--pause-image',
        `${registry.host}/infra/pause:3.10`,
        '--cni-plugin-dir',
        '/usr/lib/cni',
        '--cni-plugin-dir',
        pluginDir(),
      ],
      configToml: '[runtimes.broken]\nruntime_path = "/bin/false"\n',
    });
    assert.equal((await podStatus(id)).status.state, 0, 'still READY after the restart');
    await rmp(id);
    await assertGone(id, pid);
  });

  it('works through crictl: runp, pods, inspectp, stopp, rmp', async () => {
    const file = join(daemon.dir, 'crictl-pod.json');
    await writeFile(file, JSON.stringify(podConfig('crictl')));
    const ep = ['--runtime-endpoint', `unix://${daemon.socket}`];
    const id = (await run(crictl, [...ep, 'runp', file])).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.match((await run(crictl, [...ep, 'pods', '--name', 'crictl'])).stdout, /Ready\s+crictl\s+ns/);
    const inspected = JSON.parse((await run(crictl, [...ep, 'inspectp', id])).stdout) as {
      status: { state: string };
    };
    assert.equal(inspected.status.state, 'SANDBOX_READY');
    await run(crictl, [...ep, 'stopp', id]);
    await run(crictl, [...ep, 'rmp', id]);
    assert.equal((await run(crictl, [...ep, 'pods', '-q', '--name', 'crictl'])).stdout.trim(), '');
  });
});

function rejectsWith(promise: Promise<unknown>, code: grpcStatus | undefined, pattern?: RegExp): Promise<void> {
  return assert.rejects(promise, (err: ServiceError | Error) => {
    if (code !== undefined) assert.equal((err as ServiceError).code, code, err.message);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  });
}
