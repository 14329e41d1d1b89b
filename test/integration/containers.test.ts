// Containers end to end: real runc under conmon in a real pod sandbox, a busybox image built by the test.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, readFile, rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { status as grpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { buildLayer, type LayerEntry } from '../fixtures/layer-builder.js';
import { restoreHostNetwork, snapshotHostNetwork, type HostNetworkSnapshot } from '../fixtures/host-network.js';
import { repoRoot, serverStream, TestDaemon, unary } from './harness.js';
import { LocalRegistry } from './registry/local-registry.js';

const run = promisify(execFile);
const crictl = join(repoRoot, '.tools/bin/crictl');
const tag = randomBytes(3).toString('hex');

interface Status {
  id: string;
  state: number;
  exit_code: number;
  reason: string;
  started_at: bigint;
  finished_at: bigint;
  image_ref: string;
  image_id: string;
  log_path: string;
  user: { linux: { uid: bigint; gid: bigint; supplemental_groups: bigint[] } };
}

/** Runs `crictl logs -f` until `text` shows up (true) or five seconds pass (false); the follower is then ended. */
function followLogUntil(ep: string[], id: string, text: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(crictl, [...ep, 'logs', '-f', id], { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    const finish = (found: boolean) => {
      clearTimeout(timer);
      child.kill();
      resolve(found);
    };
    const timer = setTimeout(() => finish(false), 5000);
    child.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) finish(true);
    });
  });
}

const applets = [
  'sh',
  'echo',
  'cat',
  'sleep',
  'id',
  'ps',
  'ls',
  'true',
  'grep',
  'pgrep',
  'top',
  'dd',
  'touch',
  'mkdir',
];

async function busyboxLayer(): Promise<ReturnType<typeof buildLayer>> {
  const entries: LayerEntry[] = [
    { type: 'file', name: 'bin/busybox', data: await readFile('/usr/bin/busybox'), mode: 0o755 },
    ...applets.map((a): LayerEntry => ({ type: 'symlink', name: `bin/${a}`, target: 'busybox' })),
    {
      type: 'file',
      name: 'etc/passwd',
      data: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n',
    },
    { type: 'file', name: 'etc/group', data: 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n' },
    { type: 'dir', name: 'tmp/', mode: 0o1777 },
  ];
  return buildLayer(entries);
}

for (const [handler, subnet] of [
  ['runc', 251],
  ['crun', 252],
] as const) {
  describe(`containers with ${handler} under conmon`, () => {
    const bridge = `critc${tag}${handler[0] ?? ''}`;
    let daemon: TestDaemon;
    let registry: LocalRegistry;
    let rt: Client;
    let img: Client;
    let net: HostNetworkSnapshot;
    let podId = '';
    let imageRef = '';
    let imageId = '';
    const logDir = () => join(daemon.dir, 'pod-logs');

    const podConfig = () => ({
      metadata: { name: 'ctr-pod', namespace: 'ns', uid: `u-${tag}`, attempt: 0 },
      log_directory: logDir(),
    });
    const create = (name: string, extra: Record<string, unknown>) =>
      unary<{ container_id: string }>(rt, 'CreateContainer', {
        pod_sandbox_id: podId,
        config: { metadata: { name }, image: { image: imageRef }, log_path: `${name}.log`, ...extra },
        sandbox_config: podConfig(),
      }).then((r) => r.container_id);
    const start = (id: string) => unary(rt, 'StartContainer', { container_id: id });
    const status = async (id: string) =>
      (await unary<{ status: Status }>(rt, 'ContainerStatus', { container_id: id })).status;
    const execSync = (id: string, cmd: string[], timeout = 10) =>
      unary<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(rt, 'ExecSync', {
        container_id: id,
        cmd,
        timeout,
      });
    const waitState = async (id: string, state: number): Promise<Status> => {
      for (let i = 0; i < 100; i++) {
        const s = await status(id);
        if (s.state === state) return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`container ${id} never reached state ${String(state)}`);
    };

    const pidsLimit = 321;
    const daemonOptions = () => ({
      args: [
        '--registries-conf',
        join(daemon.dir, 'registries.conf'),
        '--pause-image',
        `${registry.host}/infra/pause:3.10`,
      ],
      configToml: `[runtime]\npids_limit = ${String(pidsLimit)}\n`,
    });

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
          config: { Entrypoint: ['/pause', '-P'] },
          rootfs: { type: 'layers', diff_ids: [pause.diffId] },
        },
        layers: [{ data: pause.blob, mediaType: pause.mediaType }],
      });
      const bb = await busyboxLayer();
      const pushed = await registry.pushImage('tools/busybox', 'v1', {
        config: {
          architecture: 'amd64',
          os: 'linux',
          config: { Cmd: ['sh'], Env: ['PATH=/bin', 'FROM_IMAGE=yes'], WorkingDir: '/tmp' },
          rootfs: { type: 'layers', diff_ids: [bb.diffId] },
        },
        layers: [{ data: bb.blob, mediaType: bb.mediaType }],
      });
      daemon = await TestDaemon.create();
      await writeFile(
        join(daemon.cniDir, '50-test.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: `critc-${tag}-${handler}`,
          plugins: [
            {
              type: 'bridge',
              bridge,
              isGateway: true,
              ipMasq: false,
              ipam: {
                type: 'host-local',
                dataDir: join(daemon.dir, 'ipam'),
                ranges: [[{ subnet: `10.199.${String(subnet)}.0/24` }]],
              },
            },
          ],
        }),
      );
      const conf = join(daemon.dir, 'registries.conf');
      await writeFile(
        conf,
        `[[registry]]\nprefix = "${registry.host}"\nlocation = "${registry.host}"\ninsecure = true\n`,
      );
      await daemon.start(daemonOptions());
      rt = daemon.runtime();
      img = daemon.image();
      imageRef = `${registry.host}/tools/busybox:v1`;
      imageId = (await unary<{ image_ref: string }>(img, 'PullImage', { image: { image: imageRef } })).image_ref;
      assert.equal(imageId, pushed.configDigest);
      podId = (
        await unary<{ pod_sandbox_id: string }>(rt, 'RunPodSandbox', {
          config: podConfig(),
          runtime_handler: handler,
        })
      ).pod_sandbox_id;
    });

    after(async () => {
      if (podId !== '') await unary(rt, 'RemovePodSandbox', { pod_sandbox_id: podId }).catch(() => undefined);
      rt.close();
      img.close();
      await daemon.cleanup();
      await registry.stop();
      await restoreHostNetwork(net, [bridge]);
    });

    it('runs a container to its exit code and logs in CRI format', async () => {
      const id = await create('exits', { command: ['sh', '-c', 'echo hello; echo oops >&2; exit 3'] });
      assert.equal((await status(id)).state, 0, 'CREATED');
      await start(id);
      const s = await waitState(id, 2);
      assert.equal(s.exit_code, 3);
      assert.equal(s.reason, 'Error');
      assert.ok(s.finished_at >= s.started_at && s.started_at > 0n);
      assert.equal(s.image_ref, imageId, 'image_ref is the id PullImage returned');
      assert.equal(s.image_id, imageId);
      const log = await readFile(join(logDir(), 'exits.log'), 'utf8');
      assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d stdout F hello$/m);
      assert.match(log, / stderr F oops$/m);
      await unary(rt, 'RemoveContainer', { container_id: id });
    });

    it('execs commands with exit codes, and kills them on timeout', async () => {
      // Its own pid namespace makes sleep PID 1, which ignores SIGTERM: StopContainer must KILL after the timeout.
      const id = await create('exec', {
        command: ['sleep', '1000'],
        linux: { security_context: { namespace_options: { pid: 1 } } },
      });
      await start(id);
      const r = await execSync(id, ['sh', '-c', 'echo out; echo err >&2; echo $FROM_IMAGE $PWD; exit 5']);
      assert.equal(r.exit_code, 5);
      assert.equal(Buffer.from(r.stdout).toString(), 'out\nyes /tmp\n');
      assert.equal(Buffer.from(r.stderr).toString(), 'err\n');
      await assert.rejects(
        execSync(id, ['sleep', '37'], 1),
        (err: ServiceError) => err.code === grpcStatus.DEADLINE_EXCEEDED,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${String(daemon.metricsPort)}/metrics`)).text();
      assert.match(metrics, /^cri_ts_exec_sync_seconds_count\{outcome="timeout"\} [1-9]/m);
      assert.match(metrics, /^cri_ts_exec_sync_seconds_count\{outcome="exited"\} [1-9]/m);
      assert.match(metrics, /^cri_ts_containers\{state="running"\} [1-9]/m);
      const ps = await execSync(id, ['ps']);
      assert.doesNotMatch(Buffer.from(ps.stdout).toString(), /sleep 37/, 'the timed-out process is gone');
      await unary(rt, 'StopContainer', { container_id: id, timeout: 1 });
      const s = await status(id);
      assert.equal(s.state, 2);
      assert.equal(s.exit_code, 137, 'sleep as PID 1 ignores TERM; KILL after the timeout');
      await unary(rt, 'StopContainer', { container_id: id, timeout: 1 });
      await unary(rt, 'RemoveContainer', { container_id: id });
      await unary(rt, 'RemoveContainer', { container_id: id });
    });

    it('kills a timed-out exec in a container sharing the pod pid namespace', async () => {
      // As critest does it: `top` runs, and a timed-out `sleep` must be gone at once, not even a zombie (pgrep
      // matches zombies by name).
      const id = await create('exec-pod-pid', { command: ['sh', '-c', 'top'] });
      await start(id);
      await assert.rejects(
        execSync(id, ['sleep', '4321'], 1),
        (err: ServiceError) => err.code === grpcStatus.DEADLINE_EXCEEDED,
      );
      const left = await execSync(id, ['sh', '-c', 'pgrep sleep || true']);
      assert.equal(Buffer.from(left.stdout).toString().trim(), '');
      await unary(rt, 'RemoveContainer', { container_id: id });
    });

    it('runs as the requested user with the image groups, nested in the pod cgroup with its limits', async () => {
      const id = await create('user', {
        command: ['sleep', '1000'],
        linux: {
          resources: { memory_limit_in_bytes: 64 * 1024 * 1024, cpu_shares: 256 },
          security_context: { run_as_user: { value: 1000 } },
        },
      });
      await start(id);
      const r = await execSync(id, ['id']);
      assert.match(
        Buffer.from(r.stdout).toString(),
        /uid=1000\(app\) gid=1000\(app\) groups=1000\(app\),2000\(extra\)/,
      );
      const s = await status(id);
      assert.equal(s.user.linux.uid, 1000n);
      assert.deepEqual(s.user.linux.supplemental_groups.map(Number).sort(), [1000, 2000]);
      const memDir = `/sys/fs/cgroup/memory/cri-ts/pod-${podId}/cri-ts-${id}`;
      assert.equal(
        (await readFile(`/sys/fs/cgroup/pids/cri-ts/pod-${podId}/cri-ts-${id}/pids.max`, 'utf8')).trim(),
        String(pidsLimit),
        'the configured pids_limit',
      );
      assert.equal(
        (await readFile(join(memDir, 'memory.limit_in_bytes'), 'utf8')).trim(),
        String(64 * 1024 * 1024),
      );
      const procs = (await readFile(join(memDir, 'cgroup.procs'), 'utf8')).trim().split('\n');
      assert.ok(procs.length >= 1);
      await unary(rt, 'UpdateContainerResources', {
        container_id: id,
        linux: { memory_limit_in_bytes: 96 * 1024 * 1024, cpu_shares: 128 },
      });
      assert.equal(
        (await readFile(join(memDir, 'memory.limit_in_bytes'), 'utf8')).trim(),
        String(96 * 1024 * 1024),
      );
      await rejectsCode(
        unary(rt, 'UpdateContainerResources', { container_id: id, linux: { memory_limit_in_bytes: -5 } }),
        grpcStatus.INVALID_ARGUMENT,
      );
      assert.equal(
        (await readFile(join(memDir, 'memory.limit_in_bytes'), 'utf8')).trim(),
        String(96 * 1024 * 1024),
        'unchanged',
      );
      await rejectsCode(unary(img, 'RemoveImage', { image: { image: imageRef } }), grpcStatus.FAILED_PRECONDITION);
      await unary(rt, 'RemoveContainer', { container_id: id });
      await assert.rejects(lstat(memDir), { code: 'ENOENT' });
    });

    it('reports stats of running containers and reopens a rotated log', async () => {
      const id = await create('stats', {
        command: ['sh', '-c', 'echo x > /tmp/written; while true; do echo tick; sleep 0.1; done'],
        labels: { role: 'stats' },
      });
      await start(id);
      await new Promise((r) => setTimeout(r, 400));
      type Stats = {
        attributes: { id: string };
        cpu: { usage_core_nano_seconds: { value: bigint }; usage_nano_cores: { value: bigint } };
        memory: { working_set_bytes: { value: bigint } };
        writable_layer: { used_bytes: { value: bigint } };
      };
      const one = (await unary<{ stats: Stats }>(rt, 'ContainerStats', { container_id: id })).stats;
      assert.equal(one.attributes.id, id);
      assert.ok(one.cpu.usage_core_nano_seconds.value > 0n, 'cpu time counted');
      assert.ok(one.cpu.usage_nano_cores.value > 0n, 'a rate from the first sample on');
      assert.ok(
        one.cpu.usage_nano_cores.value <= BigInt(availableParallelism()) * 1_000_000_000n,
        'at most every core',
      );
      assert.ok(one.memory.working_set_bytes.value > 0n, 'memory counted');
      assert.ok(one.writable_layer.used_bytes.value > 0n, 'the file written lands in the writable layer');
      const listed = await unary<{ stats: Stats[] }>(rt, 'ListContainerStats', {
        filter: { label_selector: { role: 'stats' } },
      });
      assert.deepEqual(
        listed.stats.map((s) => s.attributes.id),
        [id],
      );

      type PodStats = {
        attributes: { id: string };
        linux: {
          cpu: { usage_core_nano_seconds: { value: bigint }; usage_nano_cores: { value: bigint } };
          process: { process_count: { value: bigint } };
          network: { default_interface: { name: string; rx_bytes: { value: bigint } } | null };
          containers: { attributes: { id: string } }[];
        };
      };
      const pod = (await unary<{ stats: PodStats }>(rt, 'PodSandboxStats', { pod_sandbox_id: podId })).stats;
      assert.equal(pod.attributes.id, podId);
      assert.ok(pod.linux.cpu.usage_core_nano_seconds.value > 0n);
      assert.ok(pod.linux.cpu.usage_nano_cores.value > 0n);
      assert.ok(pod.linux.process.process_count.value >= 2n, 'pause and the container');
      assert.equal(pod.linux.network.default_interface?.name, 'eth0');
      assert.ok(pod.linux.containers.some((c) => c.attributes.id === id));
      const pods = await unary<{ stats: PodStats[] }>(rt, 'ListPodSandboxStats', {});
      assert.ok(pods.stats.some((p) => p.attributes.id === podId));

      const logPath = join(logDir(), 'stats.log');
      await rename(logPath, `${logPath}.1`);
      await unary(rt, 'ReopenContainerLog', { container_id: id });
      await new Promise((r) => setTimeout(r, 400));
      assert.match(await readFile(logPath, 'utf8'), / stdout F tick$/m, 'new lines go to the reopened file');
      await unary(rt, 'RemoveContainer', { container_id: id });
    });

    it('serves cAdvisor-style metrics of running containers that agree with the descriptors', async () => {
      const id = await create('metrics', {
        command: ['sh', '-c', 'echo data > /tmp/in-writable-layer; sleep 1000'],
        linux: {
          resources: {
            cpu_period: 100000,
            cpu_quota: 20000,
            cpu_shares: 512,
            memory_limit_in_bytes: 64 * 1024 * 1024,
            memory_swap_limit_in_bytes: 64 * 1024 * 1024,
          },
        },
      });
      await start(id);
      const info = JSON.parse(
        (await unary<{ info: { info: string } }>(rt, 'ContainerStatus', { container_id: id, verbose: true })).info
          .info,
      ) as {
        pid: number;
        runtimeSpec: { process: { args: string[] }; linux: { resources: { pids?: { limit: number } } } };
      };
      assert.deepEqual(info.runtimeSpec.process.args, [
        'sh',
        '-c',
        'echo data > /tmp/in-writable-layer; sleep 1000',
      ]);
      assert.equal(info.runtimeSpec.linux.resources.pids?.limit, pidsLimit, 'verbose status shows the spec run');
      const initCgroups = await readFile(`/proc/${String(info.pid)}/cgroup`, 'utf8');
      const execCgroups = Buffer.from((await execSync(id, ['cat', '/proc/self/cgroup'])).stdout).toString();
      assert.equal(execCgroups, initCgroups, 'ExecSync runs in the container cgroups');
      const busy = await execSync(id, ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done']);
      assert.equal(busy.exit_code, 0, Buffer.from(busy.stderr).toString());
      type Descriptor = { name: string; help: string; label_keys: string[] };
      type Metric = { name: string; metric_type: number; label_values: string[]; value: { value: bigint } };
      type PodMetrics = {
        pod_sandbox_id: string;
        metrics: Metric[];
        container_metrics: { container_id: string; metrics: Metric[] }[];
      };
      const descs = (await unary<{ descriptors: Descriptor[] }>(rt, 'ListMetricDescriptors', {})).descriptors;
      const keys = new Map(descs.map((d) => [d.name, d.label_keys]));
      for (const name of [
        'container_cpu_usage_seconds_total',
        'container_memory_working_set_bytes',
        'container_sockets',
      ])
        assert.ok(keys.has(name), `${name} is described`);
      assert.ok(descs.every((d) => d.help !== '' && d.label_keys[0] === 'id'));
      // The kernel counts a CFS period when its timer fires, up to 100 ms after the busy loop ran.
      const cpuDir = `/sys/fs/cgroup/cpu/cri-ts/pod-${podId}/cri-ts-${id}`;
      for (let i = 0; i < 20 && /^nr_periods 0$/m.test(await readFile(join(cpuDir, 'cpu.stat'), 'utf8')); i++)
        await new Promise((r) => setTimeout(r, 50));
      const all = (await unary<{ pod_metrics: PodMetrics[] }>(rt, 'ListPodSandboxMetrics', {})).pod_metrics;
      const pod = all.find((p) => p.pod_sandbox_id === podId);
      assert.ok(pod !== undefined, 'the pod is listed');
      const mine = pod.container_metrics.find((c) => c.container_id === id)?.metrics ?? [];
      for (const m of [...pod.metrics, ...mine]) {
        assert.equal(m.label_values.length, keys.get(m.name)?.length, `${m.name} labels match its descriptor`);
      }
      const value = (name: string, ...extra: string[]) =>
        mine.find((m) => m.name === name && extra.every((e, i) => m.label_values[3 + i] === e))?.value.value;
      const [labelId, labelName, labelImage] =
        mine.find((m) => m.name === 'container_memory_rss')?.label_values ?? [];
      assert.equal(labelId, id);
      assert.match(labelName ?? '', /^k8s_metrics_ctr-pod_ns_/);
      assert.equal(labelImage, imageRef);
      assert.equal(value('container_spec_memory_limit_bytes'), BigInt(64 * 1024 * 1024));
      assert.equal(value('container_spec_cpu_quota'), 20000n);
      assert.equal(value('container_spec_cpu_period'), 100000n);
      assert.equal(value('container_spec_cpu_shares'), 512n);
      assert.equal(value('container_threads_max'), BigInt(pidsLimit));
      assert.ok((value('container_processes') ?? 0n) >= 1n);
      assert.ok((value('container_memory_working_set_bytes') ?? 0n) > 0n);
      assert.ok((value('container_cpu_cfs_periods_total') ?? 0n) > 0n, 'the busy loop ran under the CFS quota');
      assert.ok((value('container_start_time_seconds') ?? 0n) > 1_700_000_000n);
      const fsUsage = mine.find((m) => m.name === 'container_fs_usage_bytes');
      assert.ok((fsUsage?.value.value ?? 0n) > 0n, 'the file written counts');
      assert.ok(
        pod.metrics.some(
          (m) => m.name === 'container_network_receive_bytes_total' && m.label_values[3] === 'eth0',
        ),
      );
      assert.ok(pod.metrics.every((m) => m.label_values[0] === podId && m.label_values[1] === 'POD'));

      const streamed = await serverStream(rt, 'StreamPodSandboxMetrics', {});
      assert.ok(
        streamed.some((r) =>
          (r as { pod_sandbox_metrics: PodMetrics[] }).pod_sandbox_metrics.some((p) => p.pod_sandbox_id === podId),
        ),
      );
      await unary(rt, 'RemoveContainer', { container_id: id });
      const after = (await unary<{ pod_metrics: PodMetrics[] }>(rt, 'ListPodSandboxMetrics', {})).pod_metrics;
      assert.ok(
        !after.some((p) => p.container_metrics.some((c) => c.container_id === id)),
        'gone with the container',
      );
    });

    it('keeps containers running and logging across a daemon kill, and reports exits that happened meanwhile', async () => {
      const logger = await create('logger', {
        command: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'],
      });
      const quitter = await create('quitter', { command: ['sh', '-c', 'sleep 1; exit 7'] });
      await start(logger);
      await start(quitter);
      daemon.signal('SIGKILL');
      await daemon.waitExit();
      const before = (await readFile(join(logDir(), 'logger.log'), 'utf8')).split('\n').length;
      await new Promise((r) => setTimeout(r, 2000));
      const during = (await readFile(join(logDir(), 'logger.log'), 'utf8')).split('\n').length;
      assert.ok(during > before + 3, 'conmon kept logging while the daemon was down');
      await daemon.start(daemonOptions());
      assert.equal((await status(logger)).state, 1, 'still RUNNING');
      const q = await status(quitter);
      assert.equal(q.state, 2);
      assert.equal(q.exit_code, 7, 'the exit while the daemon was down is reported with its code');
      for (const id of [logger, quitter]) await unary(rt, 'RemoveContainer', { container_id: id });
    });

    it('works through crictl: create, start, ps, inspect, logs -f, exec, stats, update, metrics, stop, rm', async () => {
      const ep = ['--runtime-endpoint', `unix://${daemon.socket}`, '--image-endpoint', `unix://${daemon.socket}`];
      const ctrFile = join(daemon.dir, 'ctr.json');
      const podFile = join(daemon.dir, 'pod.json');
      await writeFile(
        ctrFile,
        JSON.stringify({
          metadata: { name: 'cli' },
          image: { image: imageRef },
          command: ['sh', '-c', 'echo from-crictl; sleep 1000'],
          log_path: 'cli.log',
        }),
      );
      await writeFile(podFile, JSON.stringify(podConfig()));
      const id = (await run(crictl, [...ep, 'create', podId, ctrFile, podFile])).stdout.trim();
      await run(crictl, [...ep, 'start', id]);
      assert.match((await run(crictl, [...ep, 'ps', '--name', 'cli'])).stdout, /Running\s+cli/);
      const inspected = JSON.parse((await run(crictl, [...ep, 'inspect', id])).stdout) as {
        status: { state: string };
      };
      assert.equal(inspected.status.state, 'CONTAINER_RUNNING');
      await new Promise((r) => setTimeout(r, 300));
      assert.match((await run(crictl, [...ep, 'logs', id])).stdout, /from-crictl/);
      assert.equal(
        (await run(crictl, [...ep, 'exec', '--sync', id, 'echo', 'in-container'])).stdout.trim(),
        'in-container',
      );
      assert.equal(await followLogUntil(ep, id, 'from-crictl'), true, 'logs -f streams the line');
      const stats = JSON.parse((await run(crictl, [...ep, 'stats', '-o', 'json', '--id', id])).stdout) as {
        stats: { attributes: { id: string }; memory: { workingSetBytes: { value: string } } }[];
      };
      const [first] = stats.stats;
      assert.ok(first !== undefined);
      assert.equal(first.attributes.id, id);
      assert.ok(Number(first.memory.workingSetBytes.value) > 0);
      await run(crictl, [...ep, 'update', '--memory', String(80 * 1024 * 1024), id]);
      const memDir = `/sys/fs/cgroup/memory/cri-ts/pod-${podId}/cri-ts-${id}`;
      assert.equal(
        (await readFile(join(memDir, 'memory.limit_in_bytes'), 'utf8')).trim(),
        String(80 * 1024 * 1024),
      );
      assert.match((await run(crictl, [...ep, 'metricdescs'])).stdout, /container_memory_working_set_bytes/);
      assert.match((await run(crictl, [...ep, 'metricsp'])).stdout, new RegExp(id));
      await run(crictl, [...ep, 'stop', '--timeout', '1', id]);
      await run(crictl, [...ep, 'rm', id]);
      assert.equal((await run(crictl, [...ep, 'ps', '-a', '-q', '--name', 'cli'])).stdout.trim(), '');
    });

    it('runs containers with crun in a crun pod, limits applied through its cgroup v1 view', async () => {
      const crunPodConfig = {
        metadata: { name: 'crun-pod', namespace: 'ns', uid: `c-${tag}`, attempt: 0 },
        log_directory: logDir(),
      };
      const crunPod = (
        await unary<{ pod_sandbox_id: string }>(rt, 'RunPodSandbox', {
          config: crunPodConfig,
          runtime_handler: 'crun',
        })
      ).pod_sandbox_id;
      const id = (
        await unary<{ container_id: string }>(rt, 'CreateContainer', {
          pod_sandbox_id: crunPod,
          config: {
            metadata: { name: 'on-crun' },
            image: { image: imageRef },
            command: ['sleep', '1000'],
            log_path: 'on-crun.log',
            linux: { resources: { memory_limit_in_bytes: 48 * 1024 * 1024 } },
          },
          sandbox_config: crunPodConfig,
        })
      ).container_id;
      await start(id);
      assert.equal(Buffer.from((await execSync(id, ['echo', 'via crun'])).stdout).toString(), 'via crun\n');
      const state = await run('crun', ['--root', join(daemon.dir, 'run', 'crun'), 'state', id]);
      assert.equal((JSON.parse(state.stdout) as { status: string }).status, 'running');
      const memDir = `/sys/fs/cgroup/memory/cri-ts/pod-${crunPod}/cri-ts-${id}`;
      assert.equal(
        (await readFile(join(memDir, 'memory.limit_in_bytes'), 'utf8')).trim(),
        String(48 * 1024 * 1024),
      );
      await unary(rt, 'RemovePodSandbox', { pod_sandbox_id: crunPod });
      await rejectsCode(status(id), grpcStatus.NOT_FOUND);
    });

    it('reports an OOM kill with its reason', async () => {
      const id = await create('oom', {
        command: ['dd', 'if=/dev/zero', 'of=/dev/shm/fill', 'bs=1M', 'count=48'],
        linux: { resources: { memory_limit_in_bytes: 16 * 1024 * 1024 } },
      });
      await start(id);
      const s = await waitState(id, 2);
      assert.equal(s.reason, 'OOMKilled');
      assert.equal(s.exit_code, 137);
      await unary(rt, 'RemoveContainer', { container_id: id });
    });

    it('applies capabilities, a Localhost seccomp profile and a read-only rootfs', async () => {
      const profile = join(daemon.dir, 'no-mkdir.json');
      await writeFile(
        profile,
        JSON.stringify({
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
        }),
      );
      const id = await create('secure', {
        command: ['sleep', '1000'],
        linux: {
          security_context: {
            capabilities: { add_capabilities: ['NET_ADMIN'] },
            seccomp: { profile_type: 2, localhost_ref: profile },
            readonly_rootfs: true,
          },
        },
      });
      await start(id);
      const caps = Buffer.from((await execSync(id, ['grep', 'CapEff', '/proc/self/status'])).stdout).toString();
      // cri-o's nine defaults (CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE) + NET_ADMIN.
      assert.match(caps, /CapEff:\s+00000000000015fb/);
      const mk = await execSync(id, ['mkdir', '/dev/shm/newdir']);
      assert.notEqual(mk.exit_code, 0);
      assert.match(Buffer.from(mk.stderr).toString(), /Operation not permitted/);
      const touch = await execSync(id, ['touch', '/should-not-exist']);
      assert.notEqual(touch.exit_code, 0);
      assert.match(Buffer.from(touch.stderr).toString(), /Read-only file system/);
      await unary(rt, 'RemoveContainer', { container_id: id });
    });

    it('makes recursive read-only mounts where the handler advertises them, and refuses them elsewhere', async () => {
      type Handler = { name: string; features: { recursive_read_only_mounts: boolean } };
      const handlers = (await unary<{ runtime_handlers: Handler[] }>(rt, 'Status', {})).runtime_handlers;
      const advertised = handlers.find((h) => h.name === handler)?.features.recursive_read_only_mounts;
      // runc 1.1 lists "rro" in `runc features` and this kernel has mount_setattr; crun 1.8 has no `features`.
      assert.equal(advertised, handler === 'runc');
      const volume = join(daemon.dir, 'rro-volume');
      await run('mkdir', ['-p', join(volume, 'sub')]);
      await run('mount', ['-t', 'tmpfs', 'tmpfs', join(volume, 'sub')]);
      try {
        const config = {
          command: ['sleep', '1000'],
          mounts: [{ container_path: '/mnt', host_path: volume, readonly: true, recursive_read_only: true }],
        };
        if (!advertised) {
          await rejectsCode(create('rro', config), grpcStatus.INVALID_ARGUMENT);
          return;
        }
        const id = await create('rro', config);
        await start(id);
        const touched = await execSync(id, ['sh', '-c', 'touch /mnt/sub/x 2>&1']);
        assert.notEqual(touched.exit_code, 0);
        assert.match(
          Buffer.from(touched.stdout).toString(),
          /Read-only file system/,
          'the submount is read-only too',
        );
        await unary(rt, 'RemoveContainer', { container_id: id });
      } finally {
        await run('umount', [join(volume, 'sub')]).catch(() => undefined);
      }
    });

    it('propagates a host mount into the container with HOST_TO_CONTAINER', async () => {
      const shared = join(daemon.dir, 'shared');
      await run('mkdir', ['-p', join(shared, 'sub')]);
      await run('mount', ['--bind', shared, shared]);
      await run('mount', ['--make-rshared', shared]);
      try {
        const id = await create('propagation', {
          command: ['sleep', '1000'],
          mounts: [{ container_path: '/mnt', host_path: shared, propagation: 1 }],
        });
        await start(id);
        await run('mount', ['-t', 'tmpfs', 'tmpfs', join(shared, 'sub')]);
        await writeFile(join(shared, 'sub', 'late'), 'mounted after the container started');
        const seen = await execSync(id, ['cat', '/mnt/sub/late']);
        assert.equal(Buffer.from(seen.stdout).toString(), 'mounted after the container started');
        await unary(rt, 'RemoveContainer', { container_id: id });
      } finally {
        await run('umount', [join(shared, 'sub')]).catch(() => undefined);
        await run('umount', [shared]).catch(() => undefined);
      }
    });

    it('removes a pod together with its containers', async () => {
      const id = await create('doomed', { command: ['sleep', '1000'] });
      await start(id);
      await unary(rt, 'RemovePodSandbox', { pod_sandbox_id: podId });
      await rejectsCode(status(id), grpcStatus.NOT_FOUND);
      podId = '';
    });
  });
}

function rejectsCode(p: Promise<unknown>, code: grpcStatus): Promise<void> {
  return assert.rejects(p, (err: ServiceError) => {
    assert.equal(err.code, code, err.message);
    return true;
  });
}
