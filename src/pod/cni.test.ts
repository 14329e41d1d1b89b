import {
  restoreHostNetwork,
  snapshotHostNetwork,
  type HostNetworkSnapshot,
} from '../../test/fixtures/host-network.js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { isCriError } from '../errors/errors.js';
import { CniNetwork, type CniAttachment } from './cni.js';
import { pinNamespaces, runInNamespaces, unpinNamespaces, type PinnedNamespaces } from './namespaces.js';

/*
 * Real plugins (Debian's containernetworking-plugins in /usr/lib/cni), real namespaces, a test bridge. Traffic
 * stays on 127.0.0.0/8 and the test subnet; the bridge masquerades nothing (ipMasq false) and pods get no default
 * route. Everything made here is removed in after(): bridge, namespaces, portmap's chains (when they were ours),
 * IPAM state (a test dataDir), ip_forward (the bridge plugin turns it on).
 */
const isRoot = process.getuid?.() === 0;
const exec = promisify(execFile);
const log = pino({ level: process.env['CRI_TS_TEST_LOG'] === '1' ? 'debug' : 'silent' });
const tag = randomBytes(3).toString('hex');
const bridge = `critest${tag}`;
const systemPlugins = '/usr/lib/cni';

const kindOf = (kind: string, text?: string) => (err: unknown) =>
  isCriError(err) && err.kind === kind && (text === undefined || err.message.includes(text));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function run(file: string, ...args: string[]): Promise<string> {
  return (await exec(file, args)).stdout;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A /24 in 10.199.0.0/16 that no address or route of this host touches (other tests may run beside us). */
async function freeSubnet(): Promise<number> {
  const used = (await run('ip', '-4', 'route', 'show', 'table', 'all')) + (await run('ip', '-4', 'addr'));
  const start = randomBytes(1)[0] ?? 0;
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 256;
    if (!used.includes(`10.199.${n}.`)) return n;
  }
  throw new Error('no free test subnet in 10.199.0.0/16');
}

const natRules = (): Promise<string> => run('iptables-save', '-t', 'nat');
const hostVeths = async (): Promise<string[]> =>
  (await run('ip', '-o', 'link', 'show', 'master', bridge).catch(() => ''))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '');

/** A TCP client in the host's network namespace, retried while the listener starts. */
async function fetchTcp(host: string, port: number, attempts = 50): Promise<string> {
  for (let i = 1; ; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const socket = connect({ host, port, timeout: 2000 });
        let data = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (data += d));
        socket.on('end', () => resolve(data));
        socket.on('timeout', () => socket.destroy(new Error(`timeout connecting to ${host}:${port}`)));
        socket.on('error', reject);
      });
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(100);
    }
  }
}

// Runs inside a pod's netns through nsenter: answers every connection with a fixed line until killed.
const listener = `const s = require('net').createServer((c) => c.end(process.argv[2] + '\\n'));
s.listen(Number(process.argv[1]), '0.0.0.0');`;
// The same client as fetchTcp, for running inside a pod's netns.
const client = `const net = require('net'); let tries = 0;
(function go() { const c = net.connect(Number(process.argv[2]), process.argv[1]); let d = '';
  c.on('data', (x) => (d += x)); c.on('end', () => { process.stdout.write(d); process.exit(0); });
  c.on('error', (e) => { if (++tries > 50) { console.error(e.message); process.exit(1); } setTimeout(go, 100); });
})();`;

describe('CniNetwork with real plugins', { skip: !isRoot && 'needs root' }, () => {
  let base = '';
  let confDir = '';
  let pluginDir = '';
  let cacheDir = '';
  let dataDir = '';
  let subnet = '';
  let gateway = '';
  let network = '';
  let hostNetwork: HostNetworkSnapshot | undefined;
  const signal = AbortSignal.timeout(120_000);
  const pods = new Map<string, PinnedNamespaces>();
  let cni: CniNetwork;

  const conflist = (plugins: Record<string, unknown>[], name = network): string =>
    JSON.stringify({ cniVersion: '1.0.0', name, plugins });
  const bridgePlugin = (): Record<string, unknown> => ({
    type: 'bridge',
    bridge,
    isGateway: true,
    ipMasq: false,
    ipam: { type: 'host-local', ranges: [[{ subnet: `${subnet}.0/24`, gateway }]], dataDir, routes: [] },
  });
  const portmapPlugin = { type: 'portmap', capabilities: { portMappings: true }, snat: true };
  // Sandbox ids carry the run's tag: portmap rules and cache files of a concurrent run must not look like ours.
  const sid = (name: string): string => `${name}-${tag}`;
  const ref = (name: string) => ({
    sandboxId: sid(name),
    podName: name,
    podNamespace: 'cni-test',
    podUid: `uid-${sid(name)}`,
  });
  const allocated = async (): Promise<string[]> =>
    (await readdir(join(dataDir, network)).catch(() => [])).filter((f) => f.startsWith(`${subnet}.`));

  async function pod(id: string): Promise<PinnedNamespaces> {
    const pinned = await pinNamespaces(join(base, 'ns', id), ['net'], {}, signal);
    pods.set(id, pinned);
    return pinned;
  }

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'cri-ts-cni-'));
    confDir = join(base, 'net.d');
    pluginDir = join(base, 'bin');
    cacheDir = join(base, 'cache');
    dataDir = join(base, 'ipam');
    await mkdir(confDir);
    await mkdir(pluginDir);
    const n = await freeSubnet();
    subnet = `10.199.${n}`;
    gateway = `${subnet}.1`;
    network = `critest-${tag}`;
    hostNetwork = await snapshotHostNetwork();
    await writeFile(join(confDir, '10-test.conflist'), conflist([bridgePlugin(), portmapPlugin]));
    // Sorted after 10-test: must never be picked while 10-test is valid.
    await writeFile(join(confDir, '20-other.conflist'), conflist([{ type: 'does-not-exist' }], 'other'));
    cni = new CniNetwork({ confDir, pluginDirs: [pluginDir, systemPlugins], cacheDir, log });
  });

  after(async () => {
    const cleanup = AbortSignal.timeout(60_000);
    for (const [id, pinned] of pods) {
      await cni
        .detach({ ...ref(id), ...(pinned.net === undefined ? {} : { netns: pinned.net }) }, cleanup)
        .catch(() => undefined);
      await unpinNamespaces(pinned).catch(() => undefined);
    }
    if (hostNetwork !== undefined) await restoreHostNetwork(hostNetwork, [bridge]);
    await rm(base, { recursive: true, force: true });
  });

  const attachments = new Map<string, CniAttachment>();
  let hostPort = 0;

  it('attaches two pods to the test bridge with IPs in the test subnet', async () => {
    const a = await pod('pod-a');
    const b = await pod('pod-b');
    hostPort = 20000 + (randomBytes(2).readUInt16BE() % 20000);
    const attachA = await cni.attach(
      {
        ...ref('pod-a'),
        netns: a.net ?? '',
        portMappings: [{ hostPort, containerPort: 8080, protocol: 'tcp', hostIP: '' }],
      },
      signal,
    );
    const attachB = await cni.attach({ ...ref('pod-b'), netns: b.net ?? '', portMappings: [] }, signal);
    attachments.set('pod-a', attachA);
    attachments.set('pod-b', attachB);
    for (const [att, ns] of [
      [attachA, a],
      [attachB, b],
    ] as const) {
      assert.equal(att.network, network);
      assert.equal(att.ips.length, 1);
      const [ip] = att.ips;
      assert.ok(ip !== undefined);
      assert.match(ip.address, new RegExp(`^${subnet.replaceAll('.', '\\.')}\\.\\d+/24$`));
      assert.equal(ip.gateway, gateway);
      const eth0 = att.interfaces.find((i) => i.name === 'eth0');
      assert.equal(eth0?.sandbox, ns.net);
      assert.equal(att.interfaces.at(ip.interfaceIndex ?? 99)?.name, 'eth0');
    }
    assert.notEqual(attachA.ips[0]?.address, attachB.ips[0]?.address);
    assert.equal((await hostVeths()).length, 2);
    // Loopback is up inside the pod too.
    const lo = await runInNamespaces({ net: a.net ?? '' }, ['ip', '-o', 'link', 'show', 'lo'], signal);
    assert.match(lo.stdout, /UP/);
    assert.match(await natRules(), new RegExp(sid('pod-a')));
  });

  it('carries pod-to-pod, host-to-pod and hostPort TCP traffic', async () => {
    const a = pods.get('pod-a') ?? {};
    const b = pods.get('pod-b') ?? {};
    const ipA = (attachments.get('pod-a')?.ips[0]?.address ?? '').split('/')[0] ?? '';
    const stop = new AbortController();
    const serving = runInNamespaces(
      a,
      [process.execPath, '-e', listener, '8080', 'hello-from-a'],
      stop.signal,
    ).catch(() => undefined);
    try {
      const fromB = await runInNamespaces(b, [process.execPath, '-e', client, ipA, '8080'], signal);
      assert.equal(fromB.code, 0, fromB.stderr);
      assert.equal(fromB.stdout, 'hello-from-a\n');
      assert.equal(await fetchTcp(ipA, 8080), 'hello-from-a\n');
      // portmap DNATs locally generated traffic to any local address: the bridge's gateway address works…
      assert.equal(await fetchTcp(gateway, hostPort), 'hello-from-a\n');
      // …and so does 127.0.0.1, because portmap (snat: true) sets route_localnet on the bridge and masquerades
      // 127.0.0.1-sourced packets to the pod.
      assert.equal(await fetchTcp('127.0.0.1', hostPort, 1), 'hello-from-a\n');
      assert.equal((await readFile(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8')).trim(), '1');
    } finally {
      stop.abort();
      await serving;
    }
  });

  it('serves the cached attachment after a restart', async () => {
    const restarted = new CniNetwork({ confDir, pluginDirs: [pluginDir, systemPlugins], cacheDir, log });
    assert.deepEqual(await restarted.cached(sid('pod-a')), attachments.get('pod-a'));
    assert.equal(await restarted.cached('never-attached'), undefined);
    await assert.rejects(
      restarted.attach({ ...ref('pod-a'), netns: pods.get('pod-a')?.net ?? '', portMappings: [] }, signal),
      kindOf('AlreadyExists', 'pod-a'),
    );
  });

  it('detaches (after a restart): veth, IPAM allocation and portmap rules go; twice is fine', async () => {
    const ip = (attachments.get('pod-a')?.ips[0]?.address ?? '').split('/')[0] ?? '';
    const hostSide = attachments
      .get('pod-a')
      ?.interfaces.find((i) => i.sandbox === undefined && i.name !== bridge);
    assert.ok(hostSide !== undefined);
    assert.ok((await allocated()).includes(ip));
    const restarted = new CniNetwork({ confDir, pluginDirs: [pluginDir, systemPlugins], cacheDir, log });
    const req = { ...ref('pod-a'), netns: pods.get('pod-a')?.net ?? '' };
    await restarted.detach(req, signal);
    assert.ok(!(await allocated()).includes(ip));
    assert.ok(!(await hostVeths()).includes(hostSide.name));
    await assert.rejects(run('ip', 'link', 'show', hostSide.name));
    assert.doesNotMatch(await natRules(), new RegExp(sid('pod-a')));
    assert.equal(await restarted.cached(sid('pod-a')), undefined);
    assert.deepEqual(await readdir(cacheDir), [`${sid('pod-b')}.json`]);
    await restarted.detach(req, signal);
    await cni.detach(req, signal);
  });

  it('detaches with the cached config after the conf dir changed', async () => {
    const ip = (attachments.get('pod-b')?.ips[0]?.address ?? '').split('/')[0] ?? '';
    await rm(join(confDir, '10-test.conflist'));
    await writeFile(join(confDir, '05-new.conflist'), conflist([{ type: 'does-not-exist-either' }], 'new'));
    try {
      await cni.detach({ ...ref('pod-b'), netns: pods.get('pod-b')?.net ?? '' }, signal);
    } finally {
      await rm(join(confDir, '05-new.conflist'));
      await writeFile(join(confDir, '10-test.conflist'), conflist([bridgePlugin(), portmapPlugin]));
    }
    assert.ok(!(await allocated()).includes(ip));
    assert.deepEqual(await hostVeths(), []);
  });

  it('detaches after the netns was unpinned (CNI_NETNS empty)', async () => {
    const c = await pod('pod-c');
    const attachment = await cni.attach(
      {
        ...ref('pod-c'),
        netns: c.net ?? '',
        portMappings: [{ hostPort: 21999, containerPort: 80, protocol: 'udp', hostIP: '127.0.0.1' }],
      },
      signal,
    );
    const ip = (attachment.ips[0]?.address ?? '').split('/')[0] ?? '';
    assert.match(await natRules(), new RegExp(sid('pod-c')));
    await unpinNamespaces(c);
    // The namespace dies with its last reference, and its veth pair with it: asynchronously (the kernel's netns
    // cleanup runs from a workqueue), so a loaded host may show the veth for a moment.
    for (let i = 0; i < 100 && (await hostVeths()).length > 0; i++) await sleep(50);
    assert.deepEqual(await hostVeths(), []);
    assert.ok((await allocated()).includes(ip));
    await cni.detach({ ...ref('pod-c'), netns: c.net ?? '' }, signal);
    assert.ok(!(await allocated()).includes(ip));
    assert.doesNotMatch(await natRules(), new RegExp(sid('pod-c')));
    assert.equal(await cni.cached(sid('pod-c')), undefined);
  });

  it('rejects with a failing plugin message and leaves nothing behind', async () => {
    const marker = join(base, 'fail-plugin.log');
    await writeFile(
      join(pluginDir, 'critest-fail'),
      `#!/bin/sh
cat >/dev/null
echo "$CNI_COMMAND" >> ${marker}
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","code":100,"msg":"failing on purpose","details":"test plugin"}'
  exit 1
fi
`,
    );
    await chmod(join(pluginDir, 'critest-fail'), 0o755);
    await writeFile(
      join(confDir, '00-fail.conflist'),
      conflist([bridgePlugin(), { type: 'critest-fail' }, portmapPlugin]),
    );
    const d = await pod('pod-d');
    try {
      const before = await allocated();
      await assert.rejects(
        cni.attach({ ...ref('pod-d'), netns: d.net ?? '', portMappings: [] }, signal),
        kindOf(
          'Internal',
          `cni plugin critest-fail failed (ADD of ${sid('pod-d')}/eth0): failing on purpose: test plugin`,
        ),
      );
      assert.deepEqual((await readFile(marker, 'utf8')).split('\n'), ['ADD', 'DEL', '']);
      assert.deepEqual(await allocated(), before);
      assert.deepEqual(await hostVeths(), []);
      const links = await runInNamespaces(d, ['ip', '-o', 'link'], signal);
      assert.doesNotMatch(links.stdout, /eth0/);
      assert.equal(await exists(join(cacheDir, `${sid('pod-d')}.json`)), false);
      await cni.detach({ ...ref('pod-d'), netns: d.net ?? '' }, signal);
    } finally {
      await rm(join(confDir, '00-fail.conflist'));
    }
  });

  it('cleans up when a plugin hangs: cancelled by the signal or stopped by the plugin timeout', async () => {
    const marker = join(base, 'slow-plugin.log');
    const pids = join(base, 'slow-plugin.pids');
    // Not exec'd: the sleeping child keeps the plugin's pipes open after the plugin itself is killed.
    await writeFile(
      join(pluginDir, 'critest-slow'),
      `#!/bin/sh
cat >/dev/null
echo "$CNI_COMMAND" >> ${marker}
if [ "$CNI_COMMAND" = ADD ]; then sleep 30 & echo $! >> ${pids}; wait; fi
`,
    );
    await chmod(join(pluginDir, 'critest-slow'), 0o755);
    await writeFile(join(confDir, '00-slow.conflist'), conflist([bridgePlugin(), { type: 'critest-slow' }]));
    const f = await pod('pod-f');
    try {
      const before = await allocated();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 500);
      const started = Date.now();
      await assert.rejects(
        cni.attach({ ...ref('pod-f'), netns: f.net ?? '', portMappings: [] }, controller.signal),
        kindOf('Canceled'),
      );
      const impatient = new CniNetwork({
        confDir,
        pluginDirs: [pluginDir, systemPlugins],
        cacheDir,
        log,
        pluginTimeoutMs: 300,
      });
      await assert.rejects(
        impatient.attach({ ...ref('pod-f'), netns: f.net ?? '', portMappings: [] }, signal),
        kindOf('DeadlineExceeded', 'cni plugin critest-slow'),
      );
      assert.ok(Date.now() - started < 10_000);
      assert.deepEqual((await readFile(marker, 'utf8')).split('\n'), ['ADD', 'DEL', 'ADD', 'DEL', '']);
      assert.deepEqual(await allocated(), before);
      assert.deepEqual(await hostVeths(), []);
      assert.equal(await exists(join(cacheDir, `${sid('pod-f')}.json`)), false);
    } finally {
      await rm(join(confDir, '00-slow.conflist'));
      // The plugins' sleeping children outlive the kill of their parent: end them by their recorded pids.
      const sleepers = (await readFile(pids, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
      for (const pid of sleepers) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  it('refuses a conflist naming a missing plugin before touching anything', async () => {
    await writeFile(join(confDir, '00-missing.conflist'), conflist([bridgePlugin(), { type: 'critest-missing' }]));
    try {
      const e = pods.get('pod-d') ?? {};
      await assert.rejects(
        cni.attach({ ...ref('pod-e'), netns: e.net ?? '', portMappings: [] }, signal),
        kindOf('FailedPrecondition', 'cni plugin critest-missing not found'),
      );
      assert.deepEqual(await hostVeths(), []);
      assert.equal(await exists(join(cacheDir, `${sid('pod-e')}.json`)), false);
    } finally {
      await rm(join(confDir, '00-missing.conflist'));
    }
  });

  it('still detaches when the cache entry is unreadable, with the current network', async () => {
    await mkdir(cacheDir, { recursive: true });
    await writeFile(join(cacheDir, `${sid('pod-g')}.json`), '{ torn');
    await assert.rejects(cni.cached(sid('pod-g')), kindOf('Internal', 'pod-g'));
    await cni.detach(ref('pod-g'), signal);
    assert.equal(await exists(join(cacheDir, `${sid('pod-g')}.json`)), false);
  });

  it('refuses invalid requests', async () => {
    const netns = pods.get('pod-d')?.net ?? '';
    await assert.rejects(
      cni.attach({ ...ref('../x'), netns, portMappings: [] }, signal),
      kindOf('InvalidArgument'),
    );
    await assert.rejects(
      cni.attach(
        {
          ...ref('pod-x'),
          netns,
          portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp', hostIP: '' }],
        },
        signal,
      ),
      kindOf('InvalidArgument'),
    );
    await assert.rejects(
      cni.attach({ ...ref('pod-x'), netns: join(base, 'no-such-netns'), portMappings: [] }, signal),
      kindOf('NotFound'),
    );
    await assert.rejects(
      cni.attach({ ...ref('pod-x'), podName: 'a;K8S_POD_NAME=b', netns, portMappings: [] }, signal),
      kindOf('InvalidArgument'),
    );
  });
});
