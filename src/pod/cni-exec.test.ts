import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { isCriError } from '../errors/errors.js';
import { execPlugin, findPlugin, pluginError, type CniInvocation } from './cni-exec.js';

const dir = await mkdtemp(join(tmpdir(), 'cri-ts-cni-exec-'));
after(() => rm(dir, { recursive: true, force: true }));
const first = join(dir, 'first');
const second = join(dir, 'second');
await mkdir(first);
await mkdir(second);
const log = pino({ level: 'silent' });

async function plugin(where: string, name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(where, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, mode);
  return path;
}

await plugin(
  second,
  'echo',
  `cfg=$(cat)
printf '{"cniVersion":"1.0.0","env":"%s|%s|%s|%s|%s|%s","stdin":%s}' "$CNI_COMMAND" "$CNI_CONTAINERID" \\
  "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$CNI_PATH" "$cfg"`,
);
await plugin(first, 'echo', 'exit 0', 0o644); // not executable: passed over
await plugin(
  second,
  'fail',
  `echo '{"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"no subnet"}'; exit 1`,
);
await plugin(second, 'busy', `echo '{"code":11,"msg":"try later"}'; exit 1`);
await plugin(second, 'crash', 'echo "panic: boom" >&2; exit 2');
await plugin(second, 'silent', 'cat >/dev/null');
await plugin(second, 'slow', 'exec sleep 30');
const lingerPids = join(dir, 'linger.pids');
await plugin(second, 'linger', `sleep 30 & echo $! >> ${lingerPids}; echo '{}'`);

const invocation: CniInvocation = {
  command: 'ADD',
  containerId: 'abc123',
  netns: '/run/ns/abc123/net',
  ifName: 'eth0',
  args: [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAME', 'web'],
  ],
  pluginDirs: [first, second],
};
const opts = (signal: AbortSignal = AbortSignal.timeout(10_000), timeoutMs = 10_000) => ({
  signal,
  timeoutMs,
  log,
});
const kindOf = (kind: string, text?: string) => (err: unknown) =>
  isCriError(err) && err.kind === kind && (text === undefined || err.message.includes(text));

describe('cni plugin execution', () => {
  it('finds the first executable plugin in dir order and refuses missing or path-like types', async () => {
    assert.equal(await findPlugin('echo', [first, second]), join(second, 'echo'));
    await assert.rejects(findPlugin('nope', [first, second]), kindOf('FailedPrecondition', 'cni plugin nope'));
    await assert.rejects(findPlugin('../second/echo', [first]), kindOf('FailedPrecondition'));
  });

  it('passes the parameters in the environment and the request on stdin', async () => {
    const out = await execPlugin('echo', join(second, 'echo'), invocation, { name: 'n', type: 'echo' }, opts());
    assert.deepEqual(out, {
      cniVersion: '1.0.0',
      env: `ADD|abc123|/run/ns/abc123/net|eth0|IgnoreUnknown=1;K8S_POD_NAME=web|${first}:${second}`,
      stdin: { name: 'n', type: 'echo' },
    });
  });

  it('returns undefined for an empty answer', async () => {
    assert.equal(await execPlugin('silent', join(second, 'silent'), invocation, {}, opts()), undefined);
  });

  it('turns CNI error JSON into errors naming the plugin and its message', async () => {
    await assert.rejects(
      execPlugin('fail', join(second, 'fail'), invocation, {}, opts()),
      kindOf('FailedPrecondition', 'cni plugin fail failed (ADD of abc123/eth0): bad config: no subnet'),
    );
    await assert.rejects(execPlugin('busy', join(second, 'busy'), invocation, {}, opts()), kindOf('Unavailable'));
    await assert.rejects(
      execPlugin('crash', join(second, 'crash'), invocation, {}, opts()),
      kindOf('Internal', 'panic: boom'),
    );
    assert.match(pluginError('x', 'ADD', '', '', 'exit 9').message, /exit 9/);
  });

  it('kills a plugin on timeout and on abort', async () => {
    const started = Date.now();
    await assert.rejects(
      execPlugin('slow', join(second, 'slow'), invocation, {}, opts(AbortSignal.timeout(10_000), 200)),
      kindOf('DeadlineExceeded', 'cni plugin slow'),
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(
      execPlugin('slow', join(second, 'slow'), invocation, {}, opts(controller.signal)),
      kindOf('Canceled'),
    );
    assert.ok(Date.now() - started < 5_000);
  });

  it('does not wait for children of an exited plugin that hold its output open', async () => {
    const started = Date.now();
    try {
      await assert.rejects(
        execPlugin('linger', join(second, 'linger'), invocation, {}, opts(AbortSignal.timeout(10_000), 300)),
        kindOf('DeadlineExceeded'),
      );
      assert.ok(Date.now() - started < 5_000);
    } finally {
      for (const pid of (await readFile(lingerPids, 'utf8')).split('\n').filter((l) => l !== '')) {
        process.kill(Number(pid), 'SIGKILL');
      }
    }
  });
});
