// The OCI launch path for real (root only): conmon 2.1 + runc 1.1 (and crun 1.8 behind the cgroup v1 view) on this
// hybrid-cgroup host. Containers are busybox-static rootfs dirs; cgroups go under /cri-ts-test-<rand>. Everything
// created — containers, conmon processes, cgroup dirs, temp dirs — is removed in `after`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { detectCgroupLayout } from '../../../src/oci/cgroup-view.js';
import { ExitWatcher, oomKilled, readExitCode } from '../../../src/oci/exit-watcher.js';
import { createOciRuntime, type OciRuntime } from '../../../src/oci/oci-runtime.js';
import { readProcStat } from '../../../src/oci/proc-stat.js';
import { ownOomScoreAdj } from '../../../src/oci/spec.js';
import {
  conmonsFor,
  exists,
  handlerConfig,
  makeBundle,
  parseCriLog,
  removeCgroupTree,
  until,
  v1Controllers,
} from './fixtures.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const log = pino({ level: 'silent' });
const never = new AbortController().signal;
const suffix = randomBytes(4).toString('hex');
const cgroupParent = `/cri-ts-test-${suffix}`;
// Short: conmon's attach socket path (<socketDir>/<id>/attach) must stay below 108 bytes.
const base = await mkdtemp('/tmp/cri-ts-oci-');
const layout = detectCgroupLayout();

const runc = createOciRuntime('runc', handlerConfig(base, 'runc'), { cgroupManager: 'cgroupfs', log });
const crun = createOciRuntime('crun', handlerConfig(base, 'crun'), {
  cgroupManager: 'cgroupfs',
  log,
  cgroupV1View: true,
});
const started: { runtime: OciRuntime; id: string }[] = [];
const exits = new Map<string, number>();
const watcher = new ExitWatcher(
  join(base, 'exits'),
  (id, code) => {
    exits.set(id, code);
  },
  log,
);

function idFor(name: string): string {
  return `${name}-${suffix}`;
}

after(async () => {
  watcher.close();
  for (const { runtime, id } of started) {
    await runtime.delete(id, true).catch(() => undefined);
    for (const pid of await conmonsFor(id)) process.kill(pid, 'SIGKILL');
  }
  await removeCgroupTree(cgroupParent);
  await rm(base, { recursive: true, force: true });
});

async function inCgroup(controller: string, id: string): Promise<string | undefined> {
  try {
    return await readFile(join('/sys/fs/cgroup', controller, cgroupParent, id, 'cgroup.procs'), 'utf8');
  } catch {
    return undefined;
  }
}

/** Nothing of a failed create may remain: no runtime state, no conmon, no attach link, no exit file. */
async function assertNothingLeft(runtime: OciRuntime, root: string, id: string): Promise<void> {
  assert.equal(await runtime.state(id), undefined);
  assert.equal(await exists(join(root, id)), false, 'no runtime state dir');
  assert.deepEqual(await conmonsFor(id), [], 'no conmon left');
  await assert.rejects(lstat(join(base, 's', id)), { code: 'ENOENT' });
  assert.equal(await readExitCode(join(base, 'exits'), id), undefined);
}

/** Creates, starts and stops a shell that prints and exits 7 on TERM; checks every step on the way. */
async function lifecycle(runtime: OciRuntime, root: string, name: string): Promise<void> {
  const id = idFor(name);
  const script = 'echo hello from $(hostname); echo oops >&2; trap "exit 7" TERM; while true; do sleep 0.1; done';
  const { opts } = await makeBundle(base, id, ['/bin/sh', '-c', script], cgroupParent);
  let firstConmon = 0;
  started.push({ runtime, id });
  const { pid, monitorPid } = await runtime.create(
    {
      ...opts,
      placeMonitor: (p) => {
        firstConmon = p;
        return Promise.resolve();
      },
    },
    never,
  );
  assert.ok(pid > 0 && monitorPid > 0);
  assert.notEqual(firstConmon, monitorPid, 'placeMonitor sees the first conmon; the pidfile names the forked one');
  const proc = await readProcStat(pid);
  assert.ok(proc !== undefined && proc.state !== 'Z', 'the container process is alive');
  assert.deepEqual(await runtime.state(id), { id, status: 'created', pid, bundle: opts.bundle });

  // The runtime made the container's cgroups under the test parent in every v1 controller, with the process in.
  for (const controller of v1Controllers) {
    const procs = await inCgroup(controller, id);
    assert.ok(
      procs?.split('\n').includes(String(pid)),
      `${controller}: ${cgroupParent}/${id} holds the container`,
    );
  }
  const oomAdj = Number((await readFile(`/proc/${String(pid)}/oom_score_adj`, 'utf8')).trim());
  assert.equal(oomAdj, Math.max(-998, ownOomScoreAdj()), 'oom_score_adj clamped to the daemon own');

  await runtime.start(id, never);
  assert.equal((await runtime.state(id))?.status, 'running');
  const lines = await until('log lines', async () => {
    const parsed = parseCriLog(await readFile(opts.logPath, 'utf8').catch(() => ''));
    return parsed.length >= 2 ? parsed : undefined;
  });
  const rfc3339Nano = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}(Z|[+-]\d\d:\d\d)$/;
  for (const l of lines) {
    assert.match(l.time, rfc3339Nano);
    assert.ok(!Number.isNaN(Date.parse(l.time)));
  }
  assert.deepEqual(lines.map((l) => `${l.stream} ${l.tag} ${l.line}`).sort(), [
    `stderr F oops`,
    `stdout F hello from ${id}`,
  ]);

  await runtime.stop(id, pid, 'TERM', 10, never);
  assert.equal(await until('exit reported', () => exits.get(id)), 7);
  assert.equal(await readExitCode(opts.exitDir, id), 7);
  assert.equal((await readFile(join(opts.persistDir, 'exit'), 'utf8')).trim(), '7');
  assert.equal(await oomKilled(opts.persistDir), false);
  assert.equal((await runtime.state(id))?.status, 'stopped');
  await until('conmon exit', async () => ((await conmonsFor(id)).length === 0 ? true : undefined));

  await runtime.delete(id, false);
  assert.equal(await runtime.state(id), undefined);
  assert.equal(await exists(join(root, id)), false);
  for (const controller of v1Controllers)
    assert.equal(await inCgroup(controller, id), undefined, `${controller} removed`);
  await runtime.delete(id, true);
  await runtime.kill(id, 'KILL', false);
}

describe('OCI runtime under conmon', { skip: !isRoot && 'needs root' }, () => {
  before(() => watcher.start());

  it('runs a runc container through create, start, logs, stop and delete', async () => {
    await lifecycle(runc, join(base, 'runc-root'), 'life');
  });

  it('kills a container that ignores its stop signal once the timeout passed', async () => {
    const id = idFor('stubborn');
    const { opts } = await makeBundle(
      base,
      id,
      ['/bin/sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'],
      cgroupParent,
    );
    started.push({ runtime: runc, id });
    const { pid } = await runc.create(opts, never);
    await runc.start(id, never);
    const t0 = Date.now();
    await runc.stop(id, pid, 'SIGTERM', 1, never);
    assert.ok(Date.now() - t0 >= 1000, 'waited for the timeout first');
    assert.equal(await until('exit reported', () => exits.get(id)), 137);
    await runc.stop(id, pid, 'TERM', 1, never);
    await runc.delete(id, true);
  });

  it('rejects a create whose command is missing, with the runtime message, and leaves nothing', async () => {
    const id = idFor('nobin');
    const { opts } = await makeBundle(base, id, ['/no/such/binary'], cgroupParent);
    started.push({ runtime: runc, id });
    await assert.rejects(runc.create(opts, never), (err: Error & { kind?: string }) => {
      assert.equal(err.kind, 'Internal');
      assert.match(err.message, new RegExp(`^container ${id} create failed: .*/no/such/binary`));
      return true;
    });
    await assertNothingLeft(runc, join(base, 'runc-root'), id);
    await assert.rejects(lstat(opts.logPath), { code: 'ENOENT' });
  });

  it('rejects a create with a bad spec and a missing runtime or monitor binary', async () => {
    const id = idFor('badns');
    const { opts } = await makeBundle(base, id, ['/bin/sh'], cgroupParent, {
      namespaces: [{ type: 'mount' }, { type: 'network', path: '/nonexistent/netns' }],
      hostname: '',
    });
    started.push({ runtime: runc, id });
    await assert.rejects(runc.create(opts, never), /create failed: .*\/nonexistent\/netns/);
    await assertNothingLeft(runc, join(base, 'runc-root'), id);

    const noRuntime = createOciRuntime(
      'none',
      { ...handlerConfig(base, 'runc'), runtime_path: '/nonexistent/runc' },
      {
        cgroupManager: 'cgroupfs',
        log,
      },
    );
    await assert.rejects(
      noRuntime.create(opts, never),
      /conmon failed to create container .*\/nonexistent\/runc is not valid/,
    );
    assert.deepEqual(await conmonsFor(id), []);

    // A runtime that fails without a word: conmon has nothing to report and closes the sync pipe.
    const mute = createOciRuntime(
      'mute',
      { ...handlerConfig(base, 'runc'), runtime_path: '/bin/false' },
      {
        cgroupManager: 'cgroupfs',
        log,
      },
    );
    await assert.rejects(
      mute.create(opts, never),
      /conmon exited without reporting a pid \(the runtime \/bin\/false printed no error/,
    );
    assert.deepEqual(await conmonsFor(id), []);

    const noMonitor = createOciRuntime(
      'none',
      { ...handlerConfig(base, 'runc'), monitor_path: '/nonexistent/conmon' },
      {
        cgroupManager: 'cgroupfs',
        log,
      },
    );
    await assert.rejects(noMonitor.create(opts, never), /cannot run conmon \/nonexistent\/conmon/);
    await assertNothingLeft(runc, join(base, 'runc-root'), id);
  });

  it('cleans up on abort and on the create timeout', async () => {
    const id = idFor('abort');
    const { opts } = await makeBundle(base, id, ['/bin/sh', '-c', 'sleep 1000'], cgroupParent);
    started.push({ runtime: runc, id });
    const ac = new AbortController();
    const abortWhilePlacing = (): Promise<void> => {
      ac.abort();
      return Promise.resolve();
    };
    await assert.rejects(runc.create({ ...opts, placeMonitor: abortWhilePlacing }, ac.signal), {
      kind: 'Canceled',
    });
    await assertNothingLeft(runc, join(base, 'runc-root'), id);

    await assert.rejects(
      runc.create({ ...opts, createTimeoutMs: 200, placeMonitor: () => sleep(1000) }, never),
      (err: Error & { kind?: string }) => err.kind === 'DeadlineExceeded' && err.message.includes(id),
    );
    await assertNothingLeft(runc, join(base, 'runc-root'), id);

    // The same id and bundle create fine afterwards: the failed attempts left nothing in the way.
    const { pid } = await runc.create(opts, never);
    await runc.stop(id, pid, 'KILL', 0, never);
    await runc.delete(id, true);
  });

  it('keeps the container and its conmon running when the process that created them dies', async () => {
    const id = idFor('orphan');
    const { opts } = await makeBundle(base, id, ['/usr/bin/catatonit', '-P'], cgroupParent);
    started.push({ runtime: runc, id });
    const child = join(import.meta.dirname, 'create-in-child.js');
    const { stdout } = await run(process.execPath, [
      child,
      JSON.stringify({ config: handlerConfig(base, 'runc'), opts }),
    ]).catch((err: unknown) => {
      // The creator kills itself with SIGKILL after printing: that is the point of the test.
      const failed = err as { stdout?: string; signal?: string };
      assert.equal(failed.signal, 'SIGKILL');
      return { stdout: failed.stdout ?? '' };
    });
    const { pid, monitorPid, conmonFirstPid } = JSON.parse(stdout) as {
      pid: number;
      monitorPid: number;
      conmonFirstPid: number;
    };
    await sleep(100);
    const conmon = await readProcStat(monitorPid);
    const self = await readProcStat(process.pid);
    assert.ok(conmon !== undefined && conmon.state !== 'Z', 'conmon outlived its creator');
    assert.ok(self !== undefined);
    assert.notEqual(conmon.session, self.session, 'conmon is in its own session');
    assert.notEqual(conmon.pgrp, self.pgrp, 'and not in our process group');
    assert.equal(conmon.session, monitorPid, 'conmon called setsid() after its fork');
    assert.notEqual(conmon.pgrp, conmonFirstPid);
    assert.deepEqual(await conmonsFor(id), [monitorPid]);
    assert.equal((await runc.state(id))?.status, 'created');
    await runc.start(id, never);
    await sleep(100);
    assert.equal((await runc.state(id))?.status, 'running');
    await runc.stop(id, pid, 'TERM', 5, never);
    // catatonit -P (a pause process) exits on TERM; conmon, still there, wrote the exit file.
    assert.equal(await until('exit reported', () => exits.get(id)), 0);
    await runc.delete(id, false);
  });

  it('marks an out-of-memory kill in the persist dir', async () => {
    const id = idFor('oom');
    const script = [
      '#!/bin/sh',
      // The child shell hoards memory and is the one the OOM killer takes; init stays, so conmon is still
      // watching when the cgroup's OOM event arrives.
      `sh -c 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo \${#x}'`,
      'echo "child status $?"',
      'sleep 0.5',
      'exit 3',
    ].join('\n');
    const limit = 24 << 20;
    const { opts } = await makeBundle(
      base,
      id,
      ['/oom.sh'],
      cgroupParent,
      { resources: { memoryLimit: limit, memorySwap: limit } },
      { 'oom.sh': `${script}\n` },
    );
    started.push({ runtime: runc, id });
    await runc.create(opts, never);
    const limitFile = join('/sys/fs/cgroup/memory', cgroupParent, id, 'memory.limit_in_bytes');
    assert.equal(Number((await readFile(limitFile, 'utf8')).trim()), limit);
    await runc.start(id, never);
    assert.equal(await until('exit reported', () => exits.get(id), 30_000), 3);
    assert.equal(await oomKilled(opts.persistDir), true);
    assert.match(await readFile(opts.logPath, 'utf8'), /stdout F child status 137/);
    await runc.delete(id, false);
  });
});

describe('crun on this host', { skip: !isRoot && 'needs root' }, () => {
  it(
    'refuses hybrid cgroups even with its cgroup manager disabled',
    { skip: layout.mode !== 'hybrid' || layout.unifiedControllers.length === 0 },
    async () => {
      const id = idFor('crundis');
      const config = handlerConfig(base, 'crun', ['--cgroup-manager=disabled']);
      const disabled = createOciRuntime('crun', config, { cgroupManager: 'cgroupfs', log });
      const { opts } = await makeBundle(base, id, ['/bin/sh', '-c', 'sleep 1000'], cgroupParent);
      started.push({ runtime: disabled, id });
      await assert.rejects(disabled.create(opts, never), /cgroups in hybrid mode not supported/);
      await assertNothingLeft(disabled, config.runtime_root, id);
    },
  );

  it('runs a container with the cgroup v1 view, its cgroups made by crun itself', async () => {
    await lifecycle(crun, join(base, 'crun-root'), 'crun');
  });
});
