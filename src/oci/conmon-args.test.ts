import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { v1ViewInvocation } from './cgroup-view.js';
import { conmonArgs, conmonLogLevel } from './conmon-args.js';
import { parseSyncMessage, readSyncLine } from './conmon-sync.js';
import { parseProcStat } from './proc-stat.js';
import { runtimeErrorText } from './runtime-command.js';
import type { ContainerCreateOptions } from './runtime-types.js';

const opts: ContainerCreateOptions = {
  id: 'abc',
  name: 'k8s_pause_pod',
  bundle: '/run/b/abc',
  logPath: '/var/log/pods/p/abc.log',
  exitDir: '/run/cri-ts/exits',
  persistDir: '/var/lib/cri-ts/c/abc',
  socketDir: '/run/cri-ts/attach',
  terminal: false,
  stdin: false,
  stdinOnce: false,
};
const runc = { file: '/usr/sbin/runc', prefix: [] };

describe('conmonArgs', () => {
  it('passes what cri-o passes for a plain create', () => {
    assert.deepEqual(
      conmonArgs({
        opts,
        runtime: runc,
        runtimeGlobalArgs: ['--root=/run/cri-ts/runc'],
        systemd: false,
        logLevel: 'info',
      }),
      [
        '-b',
        '/run/b/abc',
        '-c',
        'abc',
        '--exit-dir',
        '/run/cri-ts/exits',
        '-l',
        'k8s-file:/var/log/pods/p/abc.log',
        '--log-level',
        'info',
        '-n',
        'k8s_pause_pod',
        '-P',
        '/run/b/abc/conmon-pidfile',
        '-p',
        '/run/b/abc/pidfile',
        '--persist-dir',
        '/var/lib/cri-ts/c/abc',
        '-r',
        '/usr/sbin/runc',
        '--runtime-arg',
        '--root=/run/cri-ts/runc',
        '--socket-dir-path',
        '/run/cri-ts/attach',
        '--syslog',
        '-u',
        'abc',
      ],
    );
  });

  it('adds -s, -t, -i and --leave-stdin-open as asked', () => {
    const base = { runtime: runc, runtimeGlobalArgs: [], logLevel: 'info' };
    assert.ok(conmonArgs({ ...base, opts, systemd: true }).includes('-s'));
    const tty = conmonArgs({ ...base, opts: { ...opts, terminal: true, stdin: true }, systemd: false });
    assert.ok(tty.includes('-t') && !tty.includes('-i'));
    const stdin = conmonArgs({ ...base, opts: { ...opts, stdin: true }, systemd: false });
    assert.deepEqual(stdin.slice(-2), ['--leave-stdin-open', '-i']);
    const once = conmonArgs({ ...base, opts: { ...opts, stdin: true, stdinOnce: true }, systemd: false });
    assert.deepEqual(once.slice(-1), ['-i']);
    assert.ok(!once.includes('--leave-stdin-open'));
  });

  it('puts a wrapped runtime behind -r and its prefix first among the runtime args', () => {
    const wrapped = v1ViewInvocation('/usr/bin/crun');
    const args = conmonArgs({
      opts,
      runtime: wrapped,
      runtimeGlobalArgs: ['--root=/run/crun'],
      systemd: true,
      logLevel: 'info',
    });
    assert.equal(args[args.indexOf('-r') + 1], '/usr/bin/unshare');
    const runtimeArgs = args.flatMap((a, i) => (a === '--runtime-arg' ? [args[i + 1]] : []));
    assert.deepEqual(runtimeArgs, [...wrapped.prefix, '--systemd-cgroup', '--root=/run/crun']);
    assert.ok(!args.includes('-s'), 'conmon would put --systemd-cgroup among the wrapper options');
  });

  it('maps pino levels to conmon levels', () => {
    assert.equal(conmonLogLevel('debug'), 'debug');
    assert.equal(conmonLogLevel('fatal'), 'error');
    assert.equal(conmonLogLevel('silent'), 'error');
  });
});

describe('conmon sync pipe', () => {
  it('parses both key spellings and the failure message', () => {
    assert.deepEqual(parseSyncMessage('{"pid": 42}'), { pid: 42 });
    assert.deepEqual(parseSyncMessage('{"data": 42}'), { pid: 42 });
    assert.deepEqual(parseSyncMessage('{"pid": -1, "message": "exec: \\"/x\\": not found"}'), {
      pid: -1,
      message: 'exec: "/x": not found',
    });
    assert.equal(parseSyncMessage('garbage'), undefined);
    assert.equal(parseSyncMessage('{"exit_code": 1}'), undefined);
  });

  it('reads the first line, or undefined at EOF without one', async () => {
    const a = new PassThrough();
    const line = readSyncLine(a);
    a.write('{"pid"');
    a.write(': 7}\n{"pid": 8}\n');
    assert.equal(await line, '{"pid": 7}');
    const b = new PassThrough();
    const none = readSyncLine(b);
    b.end();
    assert.equal(await none, undefined);
  });
});

describe('helpers', () => {
  it('parses /proc/<pid>/stat with awkward command names', () => {
    const line = '123 (a) b) c) S 1 120 120 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0';
    assert.deepEqual(parseProcStat(line), { state: 'S', ppid: 1, pgrp: 120, session: 120, startTime: '98765' });
    assert.equal(parseProcStat('nonsense'), undefined);
  });

  it('extracts the message of a runc log line', () => {
    const stderr = 'time="2024-01-01T00:00:00Z" level=error msg="container \\"x\\" does not exist"\n';
    assert.equal(runtimeErrorText({ code: 1, signal: null, stdout: '', stderr }), 'container "x" does not exist');
    assert.equal(runtimeErrorText({ code: 1, signal: null, stdout: '', stderr: 'crun: plain\n' }), 'crun: plain');
    assert.equal(runtimeErrorText({ code: 3, signal: null, stdout: '', stderr: '' }), 'exit status 3');
  });
});
