import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstat, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { RuntimeServiceName } from '../../src/cri/types.js';
import { criServiceMethods, runCriTs, serverStream, TestDaemon, unary } from './harness.js';

const implemented = new Set([
  'Version',
  'Status',
  'RuntimeConfig',
  'RunPodSandbox',
  'StopPodSandbox',
  'RemovePodSandbox',
  'PodSandboxStatus',
  'ListPodSandbox',
  'StreamPodSandboxes',
  'UpdateRuntimeConfig',
  'UpdatePodSandboxResources',
  'CreateContainer',
  'StartContainer',
  'StopContainer',
  'RemoveContainer',
  'ContainerStatus',
  'ListContainers',
  'StreamContainers',
  'ExecSync',
  'ReopenContainerLog',
  'UpdateContainerResources',
  'PodSandboxStats',
  'ListPodSandboxStats',
  'ListMetricDescriptors',
  'ListPodSandboxMetrics',
  'StreamPodSandboxMetrics',
  'StreamPodSandboxStats',
  'ContainerStats',
  'ListContainerStats',
  'StreamContainerStats',
]);

interface Condition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}
interface StatusResponse {
  status: { conditions: Condition[] };
  info: Record<string, string>;
  runtime_handlers: { name: string }[];
}

function condition(res: StatusResponse, type: string): Condition {
  const c = res.status.conditions.find((x) => x.type === type);
  assert.ok(c !== undefined, `no ${type} condition`);
  return c;
}

async function metricsText(port: number, path = '/metrics'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${String(port)}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('the daemon serving CRI v1', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await TestDaemon.create();
    await daemon.start();
  });
  after(() => daemon.cleanup());

  it('answers Version', async () => {
    const c = daemon.runtime();
    const res = await unary(c, 'Version', { version: 'v1' });
    c.close();
    assert.equal(res['runtime_name'], 'cri-ts');
    assert.equal(res['runtime_api_version'], 'v1');
    assert.equal(res['version'], '0.1.0');
    assert.match(String(res['runtime_version']), /^\d+\.\d+\.\d+/);
  });

  it('serves the socket with mode 0660', async () => {
    const st = await lstat(daemon.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  it('reports NetworkReady false until a CNI config appears, then true without a restart', async () => {
    const c = daemon.runtime();
    const before = await unary<StatusResponse>(c, 'Status', {});
    assert.equal(condition(before, 'RuntimeReady').status, true, 'runc and conmon are installed');
    const net = condition(before, 'NetworkReady');
    assert.equal(net.status, false);
    assert.equal(net.reason, 'NetworkPluginNotReady');
    assert.match(net.message, new RegExp(daemon.cniDir));

    await writeFile(
      join(daemon.cniDir, '10-test.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'it', plugins: [{ type: 'bridge' }] }),
    );
    const after = await unary<StatusResponse>(c, 'Status', { verbose: true });
    c.close();
    assert.equal(condition(after, 'NetworkReady').status, true);
    const config = JSON.parse(after.info['config'] ?? '{}') as { api?: { listen?: string } };
    assert.equal(config.api?.listen, `unix://${daemon.socket}`, 'verbose info carries the effective config');
    assert.deepEqual(
      after.runtime_handlers.map((h) => h.name),
      ['', 'crun', 'runc'],
    );
  });

  it('reports the cgroup driver in RuntimeConfig', async () => {
    const c = daemon.runtime();
    const res = await unary<{ linux: { cgroup_driver: number } }>(c, 'RuntimeConfig', {});
    c.close();
    assert.equal(res.linux.cgroup_driver, 1, 'CGROUPFS');
  });

  it('reports image filesystem usage that follows the store', async () => {
    const c = daemon.image();
    type Fs = {
      fs_id: { mountpoint: string };
      used_bytes: { value: bigint };
      inodes_used: { value: bigint };
      timestamp: bigint;
    };
    const first = await unary<{ image_filesystems: Fs[] }>(c, 'ImageFsInfo', {});
    const fs = first.image_filesystems[0];
    assert.ok(fs !== undefined);
    assert.equal(fs.fs_id.mountpoint, join(daemon.dir, 'root', 'images'));
    assert.ok(fs.inodes_used.value >= 1n);
    assert.ok(fs.timestamp > BigInt(Date.now() - 60_000) * 1_000_000n, 'timestamp in nanoseconds');
    await writeFile(join(fs.fs_id.mountpoint, 'blob'), Buffer.alloc(2 * 1024 * 1024, 7));
    const second = await unary<{ image_filesystems: Fs[] }>(c, 'ImageFsInfo', {});
    c.close();
    const grown = second.image_filesystems[0];
    assert.ok(grown !== undefined);
    assert.ok(grown.used_bytes.value - fs.used_bytes.value >= 2n * 1024n * 1024n);
    assert.equal(grown.inodes_used.value, fs.inodes_used.value + 1n);
  });

  it('answers UNIMPLEMENTED, naming the call, for every RuntimeService RPC not built yet', async () => {
    const c = daemon.runtime();
    const methods = criServiceMethods(RuntimeServiceName).filter((m) => !implemented.has(m.name));
    assert.ok(methods.length >= 4, `${String(methods.length)} unbuilt methods`);
    for (const m of methods) {
      const call = m.responseStream ? serverStream(c, m.name, {}) : unary(c, m.name, {});
      await assert.rejects(call, (err: ServiceError) => {
        assert.equal(err.code, grpcStatus.UNIMPLEMENTED, `${m.name}: ${err.message}`);
        assert.match(err.details, new RegExp(`${RuntimeServiceName}/${m.name} is not implemented`));
        return true;
      });
    }
    c.close();
  });

  it('exports per-RPC metrics and process metrics under cri_ts_', async () => {
    const { status, body } = await metricsText(daemon.metricsPort);
    assert.equal(status, 200);
    assert.match(body, /^cri_ts_operations_total\{operation="Version"\} [1-9]/m);
    assert.match(
      body,
      /^cri_ts_operations_errors_total\{operation="CheckpointContainer",code="UNIMPLEMENTED"\} 1$/m,
    );
    assert.match(body, /^cri_ts_operations_latency_seconds_bucket\{le="\+Inf",operation="Status"\} [1-9]/m);
    assert.match(body, /^cri_ts_process_cpu_user_seconds_total /m);
    assert.match(body, /^cri_ts_nodejs_heap_size_used_bytes /m);
    assert.equal((await metricsText(daemon.metricsPort, '/other')).status, 404);
  });

  it('logs each mutating call as JSON with the RPC and a request id', () => {
    const line = daemon.logs.split('\n').find((l) => l.includes('"msg":"Failed CheckpointContainer"'));
    assert.ok(line !== undefined, 'a log line for CheckpointContainer');
    const entry = JSON.parse(line) as { req?: string; code?: string; rpc?: string };
    assert.equal(entry.rpc, 'CheckpointContainer');
    assert.match(entry.req ?? '', /^[0-9a-f]{12}$/);
    assert.equal(entry.code, 'UNIMPLEMENTED');
  });

  it('refuses to start on a socket another daemon serves', async () => {
    const second = await runCriTs(daemon.args(['--metrics-port', '0']));
    assert.equal(second.code, 1);
    assert.match(second.stderr, /another process is already serving/);
    const c = daemon.runtime();
    await unary(c, 'Version', {});
    c.close();
  });
});

describe('start-up and shutdown', () => {
  it('exits 0 on SIGTERM, removing its socket', async () => {
    const daemon = await TestDaemon.create();
    try {
      await daemon.start();
      daemon.signal('SIGTERM');
      const { code } = await daemon.waitExit();
      assert.equal(code, 0);
      await assert.rejects(lstat(daemon.socket), { code: 'ENOENT' });
      assert.match(daemon.logs, /"msg":"Stopped serving"/);
    } finally {
      await daemon.cleanup();
    }
  });

  it('replaces a stale socket left by a killed daemon', async () => {
    const daemon = await TestDaemon.create();
    try {
      // A process that binds the path and dies without cleaning up leaves a socket nobody answers.
      await mkdir(dirname(daemon.socket), { recursive: true });
      const stale = spawn(process.execPath, [
        '-e',
        `require('node:net').createServer().listen(${JSON.stringify(daemon.socket)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      await new Promise((resolve) => stale.once('exit', resolve));
      await assert.doesNotReject(lstat(daemon.socket).then((s) => assert.ok(s.isSocket())));
      await daemon.start();
    } finally {
      await daemon.cleanup();
    }
  });

  it('refuses to replace a path that is not a socket', async () => {
    const daemon = await TestDaemon.create();
    try {
      await writeFile(join(daemon.dir, 'precious'), 'user data');
      const res = await runCriTs(daemon.args(['--listen', `unix://${join(daemon.dir, 'precious')}`]));
      assert.equal(res.code, 1);
      assert.match(res.stderr, /exists and is not a socket/);
    } finally {
      await daemon.cleanup();
    }
  });

  it('fails start-up on a bad config file, naming the key', async () => {
    const daemon = await TestDaemon.create();
    try {
      await assert.rejects(
        daemon.start({ configToml: '[metrics]\nmetrics_prot = 1\n' }),
        /key "metrics\.metrics_prot": unknown key/,
      );
      assert.equal((await daemon.waitExit()).code, 1);
    } finally {
      await daemon.cleanup();
    }
  });

  it('reports the systemd cgroup driver when configured', async () => {
    const daemon = await TestDaemon.create();
    try {
      await daemon.start({ configToml: '[runtime]\ncgroup_manager = "systemd"\n' });
      const c = daemon.runtime();
      const res = await unary<{ linux: { cgroup_driver: number } }>(c, 'RuntimeConfig', {});
      c.close();
      assert.equal(res.linux.cgroup_driver, 0, 'SYSTEMD');
    } finally {
      await daemon.cleanup();
    }
  });

  it('prints its effective configuration and version', async () => {
    const daemon = await TestDaemon.create();
    try {
      const cfg = await runCriTs(['config', ...daemon.args()]);
      assert.equal(cfg.code, 0, cfg.stderr);
      assert.match(cfg.stdout, new RegExp(`listen = "unix://${daemon.socket}"`));
      const ver = await runCriTs(['version']);
      assert.match(ver.stdout, /^Name: cri-ts$/m);
      for (const cmd of [['--help'], ['config', '--help'], ['version', '--help']]) {
        const help = await runCriTs(cmd);
        assert.equal(help.code, 0);
        assert.match(help.stdout, /Usage/);
      }
      const unknown = await runCriTs(['frobnicate']);
      assert.equal(unknown.code, 2);
    } finally {
      await daemon.cleanup();
    }
  });
});
