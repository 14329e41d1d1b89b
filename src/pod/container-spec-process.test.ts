import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Signal } from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import {
  canonicalSignal,
  imageProcess,
  processArgs,
  processCwd,
  processEnv,
  signalEnum,
  stopSignal,
  type ImageProcess,
} from './container-spec-process.js';

const invalid = (re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === 'InvalidArgument' && re.test(err.message);

const image: ImageProcess = imageProcess({
  architecture: 'amd64',
  config: {
    User: 'nginx',
    Env: ['PATH=/usr/bin:/bin', 'LANG=C', 'KEEP=image'],
    Entrypoint: ['/docker-entrypoint.sh'],
    Cmd: ['nginx', '-g', 'daemon off;'],
    WorkingDir: '/srv',
    StopSignal: 'SIGQUIT',
  },
});
const bare: ImageProcess = imageProcess({});
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('imageProcess', () => {
  it('reads the process fields of an image config, empty when missing or mistyped', () => {
    assert.equal(image.user, 'nginx');
    assert.deepEqual(image.cmd, ['nginx', '-g', 'daemon off;']);
    assert.deepEqual(bare, { user: '', env: [], entrypoint: [], cmd: [], workingDir: '', stopSignal: '' });
    assert.deepEqual(imageProcess({ config: { Cmd: 'sh', Env: [1, 'A=b'] } }).env, ['A=b']);
    assert.deepEqual(imageProcess({ config: { Cmd: 'sh' } }).cmd, []);
  });
});

describe('processArgs (Docker semantics)', () => {
  it('runs the image entrypoint and cmd when the request has neither', () => {
    assert.deepEqual(processArgs({ command: [], args: [] }, image), [
      '/docker-entrypoint.sh',
      'nginx',
      '-g',
      'daemon off;',
    ]);
  });

  it('a command replaces the entrypoint and drops the image cmd', () => {
    assert.deepEqual(processArgs({ command: ['sh', '-c', 'top'], args: [] }, image), ['sh', '-c', 'top']);
    assert.deepEqual(processArgs({ command: ['echo'], args: ['a', 'b'] }, image), ['echo', 'a', 'b']);
  });

  it('args alone replace only the cmd', () => {
    assert.deepEqual(processArgs({ command: [], args: ['nginx', '-t'] }, image), [
      '/docker-entrypoint.sh',
      'nginx',
      '-t',
    ]);
    assert.deepEqual(processArgs({ command: [], args: ['ls'] }, bare), ['ls']);
  });

  it('refuses a container with nothing to run', () => {
    assert.throws(() => processArgs({ command: [], args: [] }, bare), invalid(/no command/));
    assert.throws(() => processArgs({ command: [''], args: [] }, image), invalid(/no command/));
  });
});

describe('processEnv', () => {
  it('overlays the request on the image, replacing a key in place and appending new ones', () => {
    const env = processEnv(
      {
        envs: [
          { key: 'LANG', value: enc('C.UTF-8') },
          { key: 'NEW', value: enc('x=y') },
          { key: 'EMPTY', value: enc('') },
        ],
        tty: false,
      },
      image,
      'pod-a',
    );
    assert.deepEqual(env, [
      'HOSTNAME=pod-a',
      'PATH=/usr/bin:/bin',
      'LANG=C.UTF-8',
      'KEEP=image',
      'NEW=x=y',
      'EMPTY=',
    ]);
  });

  it('sets TERM for a tty and lets the image or request override the runtime’s variables', () => {
    const env = processEnv(
      { envs: [{ key: 'HOSTNAME', value: enc('mine') }], tty: true },
      imageProcess({ config: { Env: ['TERM=vt100'] } }),
      'pod-a',
    );
    assert.deepEqual(env, ['HOSTNAME=mine', 'TERM=vt100']);
  });

  it('refuses names with = or NUL and values with NUL', () => {
    assert.throws(
      () => processEnv({ envs: [{ key: 'A=B', value: enc('1') }], tty: false }, bare, ''),
      invalid(/"A=B"/),
    );
    assert.throws(
      () => processEnv({ envs: [{ key: '', value: enc('1') }], tty: false }, bare, ''),
      invalid(/name ""/),
    );
    assert.throws(
      () => processEnv({ envs: [{ key: 'A', value: enc('a\0b') }], tty: false }, bare, ''),
      invalid(/A holds a NUL/),
    );
  });
});

describe('processCwd', () => {
  it('prefers the request, then the image, then /', () => {
    assert.equal(processCwd({ working_dir: '/work' }, image), '/work');
    assert.equal(processCwd({ working_dir: '' }, image), '/srv');
    assert.equal(processCwd({ working_dir: '' }, bare), '/');
    assert.throws(() => processCwd({ working_dir: 'rel' }, bare), invalid(/"rel" is not absolute/));
  });
});

describe('stop signals', () => {
  it('canonicalises names, short names, numbers and real-time signals', () => {
    assert.equal(canonicalSignal('SIGTERM'), 'SIGTERM');
    assert.equal(canonicalSignal('quit'), 'SIGQUIT');
    assert.equal(canonicalSignal('9'), 'SIGKILL');
    assert.equal(canonicalSignal('SIGRTMIN+3'), 'SIGRTMIN+3');
    assert.equal(canonicalSignal('RTMAX-1'), 'SIGRTMAX-1');
    assert.equal(canonicalSignal('SIGRTMIN+16'), 'SIGRTMAX-14');
    assert.equal(canonicalSignal('49'), 'SIGRTMIN+15');
    assert.equal(canonicalSignal('34'), 'SIGRTMIN');
    assert.equal(canonicalSignal('64'), 'SIGRTMAX');
    assert.equal(canonicalSignal('SIGCLD'), 'SIGCHLD');
    assert.equal(canonicalSignal('SIGNOPE'), undefined);
    assert.equal(canonicalSignal('99'), undefined);
    assert.equal(canonicalSignal('SIGRTMIN+40'), undefined);
  });

  it('takes the request’s stop_signal, else the image’s, else SIGTERM', () => {
    assert.equal(stopSignal({ stop_signal: Signal.SIGNAL_RUNTIME_DEFAULT }, image), 'SIGQUIT');
    assert.equal(stopSignal({ stop_signal: Signal.SIGNAL_RUNTIME_DEFAULT }, bare), 'SIGTERM');
    assert.equal(stopSignal({ stop_signal: Signal.SIGNAL_SIGUSR1 }, image), 'SIGUSR1');
    assert.equal(stopSignal({ stop_signal: Signal.SIGNAL_SIGRTMINPLUS1 }, image), 'SIGRTMIN+1');
    assert.equal(stopSignal({ stop_signal: Signal.SIGNAL_SIGRTMAXMINUS1 }, image), 'SIGRTMAX-1');
    assert.equal(stopSignal({ stop_signal: Signal.SIGNAL_SIGCLD }, image), 'SIGCHLD');
    assert.equal(stopSignal({ stop_signal: 0 }, imageProcess({ config: { StopSignal: '15' } })), 'SIGTERM');
  });

  it('maps canonical names back to the CRI Signal enum for ContainerStatus', () => {
    assert.equal(signalEnum('SIGTERM'), Signal.SIGNAL_SIGTERM);
    assert.equal(signalEnum('SIGRTMIN+1'), Signal.SIGNAL_SIGRTMINPLUS1);
    assert.equal(signalEnum('SIGRTMAX-14'), Signal.SIGNAL_SIGRTMAXMINUS14);
    assert.equal(signalEnum('SIGRTMAX'), Signal.SIGNAL_SIGRTMAX);
    assert.equal(signalEnum('quit'), Signal.SIGNAL_SIGQUIT);
    assert.equal(signalEnum('SIGABRT'), Signal.SIGNAL_SIGABRT);
    assert.equal(signalEnum('SIGNOPE'), Signal.SIGNAL_RUNTIME_DEFAULT);
    // Every enum value survives the round trip through its canonical name.
    for (const value of Object.values(Signal)) {
      if (value === Signal.SIGNAL_RUNTIME_DEFAULT) continue;
      const name = stopSignal({ stop_signal: value }, bare);
      assert.equal(canonicalSignal(name), name);
      assert.notEqual(signalEnum(name), Signal.SIGNAL_RUNTIME_DEFAULT, name);
    }
  });

  it('refuses an image stop signal that is no signal', () => {
    assert.throws(
      () => stopSignal({ stop_signal: 0 }, imageProcess({ config: { StopSignal: 'SIGWHAT' } })),
      invalid(/"SIGWHAT" is not a signal/),
    );
    assert.throws(() => stopSignal({ stop_signal: 999 as Signal }, image), invalid(/stop_signal 999/));
  });
});
