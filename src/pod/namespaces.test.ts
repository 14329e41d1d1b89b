import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isCriError } from '../errors/errors.js';
import {
  pinNamespaces,
  runInNamespaces,
  sysctlNamespace,
  sysctlPath,
  unpinNamespaces,
  validateSysctls,
} from './namespaces.js';

const isRoot = process.getuid?.() === 0;
const base = await mkdtemp(join(tmpdir(), 'cri-ts-ns-'));
after(async () => {
  // Belt and braces: nothing under base may stay mounted, whatever a failed assertion left.
  for (const point of await mountsUnder(base)) await unmount(point);
  await rm(base, { recursive: true, force: true });
});

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && p.startsWith(`${dir}/`));
}

async function unmount(path: string): Promise<void> {
  const child = spawn('umount', [path], { stdio: 'ignore' });
  await once(child, 'close');
}

const kindOf =
  (kind: string): ((err: unknown) => boolean) =>
  (err) =>
    isCriError(err) && err.kind === kind;

describe('sysctl validation', () => {
  it('maps namespaced sysctls to their namespace, in dotted and slashed form', () => {
    assert.equal(sysctlNamespace('net.ipv4.ip_unprivileged_port_start'), 'net');
    assert.equal(sysctlNamespace('net/ipv4/conf/eth0.100/forwarding'), 'net');
    assert.equal(sysctlNamespace('kernel.shmmax'), 'ipc');
    assert.equal(sysctlNamespace('kernel.msgmnb'), 'ipc');
    assert.equal(sysctlNamespace('kernel.sem'), 'ipc');
    assert.equal(sysctlNamespace('fs.mqueue.msg_max'), 'ipc');
    assert.equal(sysctlNamespace('kernel.panic'), undefined);
    assert.equal(sysctlNamespace('vm.swappiness'), undefined);
    assert.equal(sysctlPath('net.ipv4.ping_group_range'), 'net/ipv4/ping_group_range');
    assert.equal(sysctlPath('net/ipv4/conf/eth0.100/forwarding'), 'net/ipv4/conf/eth0.100/forwarding');
  });

  it('refuses non-namespaced names, naming the key', () => {
    assert.throws(
      () => validateSysctls({ 'kernel.panic': '1' }, ['net', 'ipc']),
      (err: unknown) => kindOf('InvalidArgument')(err) && (err as Error).message.includes('kernel.panic'),
    );
  });

  it('refuses net sysctls without a private net namespace, bad names and multi-line values', () => {
    assert.throws(() => validateSysctls({ 'net.ipv4.ip_forward': '1' }, ['ipc']), kindOf('InvalidArgument'));
    assert.throws(() => validateSysctls({ 'net..x': '1' }, ['net']), kindOf('InvalidArgument'));
    assert.throws(() => validateSysctls({ '../../etc/x': '1' }, ['net']), kindOf('InvalidArgument'));
    assert.throws(
      () => validateSysctls({ 'net.ipv4.ping_group_range': '0 1\nkernel.panic=1' }, ['net']),
      kindOf('InvalidArgument'),
    );
    validateSysctls({ 'net.ipv4.ping_group_range': '0 2147483647', 'kernel.shmmni': '8192' }, ['net', 'ipc']);
  });
});

describe('pinned namespaces', { skip: !isRoot && 'needs root' }, () => {
  const signal = AbortSignal.timeout(60_000);

  it('pins net, ipc and uts as mounted files, applies sysctls, and unpins without a trace', async () => {
    const dir = join(base, 'pod-a');
    const pinned = await pinNamespaces(
      dir,
      ['net', 'ipc', 'uts'],
      { 'net.ipv4.ip_unprivileged_port_start': '80', 'kernel.shmmni': '2048' },
      signal,
    );
    assert.deepEqual(pinned, { net: join(dir, 'net'), ipc: join(dir, 'ipc'), uts: join(dir, 'uts') });
    assert.deepEqual((await mountsUnder(dir)).sort(), [join(dir, 'ipc'), join(dir, 'net'), join(dir, 'uts')]);

    const inside = await runInNamespaces(
      pinned,
      ['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start', '/proc/sys/kernel/shmmni'],
      signal,
    );
    assert.equal(inside.code, 0, inside.stderr);
    assert.deepEqual(inside.stdout.trim().split('\n'), ['80', '2048']);
    // The host's values are untouched.
    assert.notEqual((await readFile('/proc/sys/kernel/shmmni', 'utf8')).trim(), '2048');
    // A new network namespace: only a loopback device, down.
    const links = await runInNamespaces({ net: pinned.net }, ['ip', '-o', 'link'], signal);
    assert.equal(links.stdout.trim().split('\n').length, 1);
    assert.match(links.stdout, /^1: lo:/);

    await unpinNamespaces(pinned);
    assert.deepEqual(await mountsUnder(base), []);
    assert.deepEqual(await readdir(base), []);
    await unpinNamespaces(pinned); // idempotent
  });

  it('pins and unpins through a symlinked directory (as /var/run is to /run)', async () => {
    await mkdir(join(base, 'real'));
    await symlink(join(base, 'real'), join(base, 'link'));
    try {
      const pinned = await pinNamespaces(join(base, 'link', 'pod-s'), ['net'], {}, signal);
      assert.deepEqual(pinned, { net: join(base, 'real', 'pod-s', 'net') });
      assert.deepEqual(await mountsUnder(base), [join(base, 'real', 'pod-s', 'net')]);
      await unpinNamespaces({ net: join(base, 'link', 'pod-s', 'net') });
      assert.deepEqual(await mountsUnder(base), []);
      assert.deepEqual(await readdir(join(base, 'real')), []);
    } finally {
      await rm(join(base, 'link'));
      await rm(join(base, 'real'), { recursive: true });
    }
  });

  it('returns the exit code and output of a command run inside', async () => {
    const pinned = await pinNamespaces(join(base, 'pod-b'), ['uts'], {}, signal);
    try {
      const set = await runInNamespaces(pinned, ['sh', '-c', 'hostname pod-b && hostname && exit 3'], signal);
      assert.deepEqual(set, { stdout: 'pod-b\n', stderr: '', code: 3 });
      assert.notEqual((await readFile('/proc/sys/kernel/hostname', 'utf8')).trim(), 'pod-b');
    } finally {
      await unpinNamespaces(pinned);
    }
    await assert.rejects(runInNamespaces(pinned, ['true'], signal), kindOf('NotFound'));
  });

  it('ends a cancelled command promptly even when its children hold the output open', async () => {
    const pinned = await pinNamespaces(join(base, 'pod-i'), ['uts'], {}, signal);
    const pidFile = join(base, 'linger.pid');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    try {
      await assert.rejects(
        runInNamespaces(pinned, ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; exit 0`], controller.signal),
        kindOf('Canceled'),
      );
      assert.ok(Date.now() - started < 5_000);
    } finally {
      process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGKILL');
      await rm(pidFile);
      await unpinNamespaces(pinned);
    }
  });

  it('undoes everything when a sysctl cannot be set, naming the key', async () => {
    const dir = join(base, 'pod-c');
    await assert.rejects(
      pinNamespaces(dir, ['net', 'ipc'], { 'net.ipv4.no_such_sysctl': '1' }, signal),
      (err: unknown) =>
        kindOf('InvalidArgument')(err) && (err as Error).message.includes('net.ipv4.no_such_sysctl'),
    );
    assert.deepEqual(await mountsUnder(base), []);
    assert.deepEqual(await readdir(base), []);
  });

  it('refuses a non-namespaced sysctl before creating anything', async () => {
    await assert.rejects(
      pinNamespaces(join(base, 'pod-d'), ['net', 'ipc'], { 'vm.overcommit_memory': '1' }, signal),
      (err: unknown) => kindOf('InvalidArgument')(err) && (err as Error).message.includes('vm.overcommit_memory'),
    );
    assert.deepEqual(await readdir(base), []);
  });

  it('never pins over an existing file and leaves that pin alone', async () => {
    const dir = join(base, 'pod-e');
    const first = await pinNamespaces(dir, ['uts'], {}, signal);
    // net is created first and must be undone; the existing uts pin must survive.
    await assert.rejects(pinNamespaces(dir, ['net', 'uts'], {}, signal), kindOf('AlreadyExists'));
    assert.deepEqual(await readdir(dir), ['uts']);
    assert.deepEqual(await mountsUnder(base), [join(dir, 'uts')]);
    await unpinNamespaces(first);
    assert.deepEqual(await readdir(base), []);
  });

  it('stops and cleans up when the signal is already aborted', async () => {
    await assert.rejects(pinNamespaces(join(base, 'pod-f'), ['net'], {}, AbortSignal.abort()), kindOf('Canceled'));
    assert.deepEqual(await readdir(base), []);
  });

  it('keeps the namespace alive after the process that pinned it has exited', async () => {
    const dir = join(base, 'pod-g');
    const moduleUrl = new URL('./namespaces.js', import.meta.url).href;
    const script = `const m = await import(${JSON.stringify(moduleUrl)});
      await m.pinNamespaces(${JSON.stringify(dir)}, ['net'], { 'net.ipv4.ip_unprivileged_port_start': '81' },
        AbortSignal.timeout(30000));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 0);
    const pinned = { net: join(dir, 'net') };
    try {
      const read = await runInNamespaces(pinned, ['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'], signal);
      assert.equal(read.stdout.trim(), '81');
    } finally {
      await unpinNamespaces(pinned);
    }
    assert.deepEqual(await mountsUnder(base), []);
  });

  it('unpinning also drops the copy another (private) mount namespace took', async () => {
    const pinned = await pinNamespaces(join(base, 'pod-h'), ['net'], {}, signal);
    const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '30'], { stdio: 'ignore' });
    try {
      const file = pinned.net ?? '';
      const copies = async (): Promise<number> =>
        (await readFile(`/proc/${String(holder.pid)}/mountinfo`, 'utf8'))
          .split('\n')
          .filter((l) => l.includes(file)).length;
      for (let i = 0; i < 50 && (await copies().catch(() => 0)) === 0; i++) await sleep(20);
      assert.equal(await copies(), 1);
      await unpinNamespaces(pinned);
      assert.equal(await copies(), 0);
    } finally {
      holder.kill('SIGKILL');
      await unpinNamespaces(pinned);
    }
  });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
