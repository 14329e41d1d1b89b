import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CriError } from '../errors/errors.js';
import { convertSeccompProfile } from './seccomp-convert.js';
import { builtInSeccompProfile } from './seccomp-default.js';
import { localhostSeccomp, runtimeDefaultSeccomp } from './seccomp-load.js';

const target = { capabilities: ['CAP_CHOWN'], arch: 'amd64', kernel: '6.1.0' };
const kind = (k: string, re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === k && re.test(err.message);

describe('seccomp profile files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cri-ts-seccomp-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses the default profile file when it exists, filtered for the container', async () => {
    const path = join(dir, 'default.json');
    await writeFile(
      path,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_ALLOW' },
          { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        ],
      }),
    );
    assert.deepEqual(await runtimeDefaultSeccomp(path, target), {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
    });
  });

  it('falls back to the built-in profile when the default file is missing', async () => {
    const s = await runtimeDefaultSeccomp(join(dir, 'missing.json'), target);
    assert.deepEqual(s, convertSeccompProfile(builtInSeccompProfile, target));
    assert.equal(s?.defaultAction, 'SCMP_ACT_ALLOW', 'the fallback is a deny list');
    assert.ok(s.syscalls?.some((r) => r.names.includes('kexec_load') && r.action === 'SCMP_ACT_ERRNO'));
  });

  it('reports a broken default file as the node’s problem (Internal), naming it', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{ not json');
    await assert.rejects(runtimeDefaultSeccomp(path, target), kind('Internal', /broken\.json.*not valid JSON/));
  });

  it('reads Localhost profiles in runtime-spec form (critest’s block-chmod profile)', async () => {
    const path = join(dir, 'block-chmod.json');
    const profile = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' }],
    };
    await writeFile(path, JSON.stringify(profile));
    assert.deepEqual(await localhostSeccomp(path, target), profile);
  });

  it('reads Localhost profiles in Docker form and filters them', async () => {
    const path = join(dir, 'docker.json');
    await writeFile(
      path,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
        syscalls: [{ names: ['chown'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_CHOWN'] } }],
      }),
    );
    assert.deepEqual(await localhostSeccomp(path, target), {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [{ names: ['chown'], action: 'SCMP_ACT_ALLOW' }],
    });
  });

  it('refuses a missing, relative, non-file or invalid Localhost profile as InvalidArgument', async () => {
    await assert.rejects(
      localhostSeccomp(join(dir, 'nope.json'), target),
      kind('InvalidArgument', /nope\.json does not exist/),
    );
    await assert.rejects(localhostSeccomp('profiles/x.json', target), kind('InvalidArgument', /not absolute/));
    await mkdir(join(dir, 'a-dir'));
    await assert.rejects(
      localhostSeccomp(join(dir, 'a-dir'), target),
      kind('InvalidArgument', /not a regular file/),
    );
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ defaultAction: 42 }));
    await assert.rejects(localhostSeccomp(bad, target), kind('InvalidArgument', /bad\.json: defaultAction/));
  });
});
