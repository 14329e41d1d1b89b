import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SecurityProfile_ProfileType, type Capability, type SecurityProfile } from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import { defaultCapabilities } from '../oci/capabilities.js';
import { checkAppArmor, containerCapabilities, containerSeccomp } from './container-spec-security.js';

const invalid = (re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === 'InvalidArgument' && re.test(err.message);

const caps = (add: string[], drop: string[] = [], ambient: string[] = []): Capability => ({
  add_capabilities: add,
  drop_capabilities: drop,
  add_ambient_capabilities: ambient,
});
const own = (): string[] => ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_NET_RAW'];
const profile = (type: SecurityProfile_ProfileType, ref = ''): SecurityProfile => ({
  profile_type: type,
  localhost_ref: ref,
});

describe('containerCapabilities', () => {
  it('starts from the runtime defaults', () => {
    assert.deepEqual(containerCapabilities(null, own), { capabilities: [...defaultCapabilities], ambient: [] });
    assert.deepEqual(containerCapabilities(caps([]), own).capabilities, [...defaultCapabilities]);
  });

  it('adds and drops single capabilities, with or without CAP_, in any case', () => {
    const c = containerCapabilities(caps(['NET_ADMIN', 'cap_sys_time'], ['KILL', 'CAP_CHOWN']), own).capabilities;
    assert.ok(c.includes('CAP_NET_ADMIN') && c.includes('CAP_SYS_TIME'));
    assert.ok(!c.includes('CAP_KILL') && !c.includes('CAP_CHOWN'));
    assert.ok(c.includes('CAP_SETUID'));
  });

  it('drop ALL then add X is only X; drop ALL alone is nothing', () => {
    assert.deepEqual(containerCapabilities(caps(['NET_BIND_SERVICE'], ['ALL']), own).capabilities, [
      'CAP_NET_BIND_SERVICE',
    ]);
    assert.deepEqual(containerCapabilities(caps([], ['all']), own).capabilities, []);
  });

  it('add ALL is every capability the daemon holds; single drops still apply', () => {
    assert.deepEqual(containerCapabilities(caps(['ALL']), own).capabilities, own());
    assert.deepEqual(containerCapabilities(caps(['ALL'], ['NET_RAW']), own).capabilities, [
      'CAP_CHOWN',
      'CAP_NET_ADMIN',
      'CAP_SYS_ADMIN',
    ]);
    // Both ALLs: drop wins, as in containerd.
    assert.deepEqual(containerCapabilities(caps(['ALL'], ['ALL']), own).capabilities, []);
  });

  it('a dropped capability stays dropped even when also added', () => {
    assert.ok(
      !containerCapabilities(caps(['NET_ADMIN'], ['NET_ADMIN']), own).capabilities.includes('CAP_NET_ADMIN'),
    );
  });

  it('puts ambient capabilities in every set', () => {
    const c = containerCapabilities(caps([], [], ['NET_BIND_SERVICE', 'SYS_TIME']), own);
    assert.deepEqual(c.ambient, ['CAP_NET_BIND_SERVICE', 'CAP_SYS_TIME']);
    assert.ok(c.capabilities.includes('CAP_SYS_TIME'));
    assert.deepEqual(containerCapabilities(caps([], ['SYS_TIME'], ['SYS_TIME']), own).ambient, []);
  });

  it('refuses unknown capability names', () => {
    assert.throws(() => containerCapabilities(caps(['FLY']), own), invalid(/capability "FLY" is unknown/));
    assert.throws(() => containerCapabilities(caps([], ['CAP_NOPE']), own), invalid(/"CAP_NOPE"/));
  });
});

describe('containerSeccomp', () => {
  let dir: string;
  let defaultPath: string;
  let blockHostname: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cri-ts-secsel-'));
    defaultPath = join(dir, 'seccomp.json');
    await writeFile(
      defaultPath,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_ALLOW' },
          { names: ['sethostname'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        ],
      }),
    );
    blockHostname = join(dir, 'block-host-name.json');
    await writeFile(
      blockHostname,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }],
      }),
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sc = (seccomp: SecurityProfile | null, path = '') => ({ seccomp, seccomp_profile_path: path });
  const base = [...defaultCapabilities];

  it('RuntimeDefault (also an empty SecurityProfile) is the default profile filtered by the capabilities', async () => {
    const s = await containerSeccomp(
      sc(profile(SecurityProfile_ProfileType.RuntimeDefault)),
      false,
      base,
      defaultPath,
    );
    assert.deepEqual(s, {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
    });
    const admin = await containerSeccomp(
      sc(profile(SecurityProfile_ProfileType.RuntimeDefault)),
      false,
      [...base, 'CAP_SYS_ADMIN'],
      defaultPath,
    );
    assert.equal(admin?.syscalls?.length, 2);
  });

  it('Unconfined, a nil profile and the empty legacy path mean no seccomp', async () => {
    assert.equal(
      await containerSeccomp(sc(profile(SecurityProfile_ProfileType.Unconfined)), false, base, defaultPath),
      undefined,
    );
    assert.equal(await containerSeccomp(sc(null), false, base, defaultPath), undefined);
    assert.equal(await containerSeccomp(null, false, base, defaultPath), undefined);
  });

  it('Localhost reads the node’s profile and refuses a missing one', async () => {
    const s = await containerSeccomp(
      sc(profile(SecurityProfile_ProfileType.Localhost, blockHostname)),
      false,
      base,
      defaultPath,
    );
    assert.deepEqual(s?.syscalls, [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }]);
    await assert.rejects(
      containerSeccomp(
        sc(profile(SecurityProfile_ProfileType.Localhost, join(dir, 'gone.json'))),
        false,
        base,
        defaultPath,
      ),
      invalid(/gone\.json does not exist/),
    );
    await assert.rejects(
      containerSeccomp(sc(profile(SecurityProfile_ProfileType.Localhost)), false, base, defaultPath),
      invalid(/needs a localhost_ref/),
    );
  });

  it('privileged containers get no seccomp, whatever the profile', async () => {
    assert.equal(
      await containerSeccomp(
        sc(profile(SecurityProfile_ProfileType.Localhost, blockHostname)),
        true,
        base,
        defaultPath,
      ),
      undefined,
    );
    assert.equal(
      await containerSeccomp(sc(profile(SecurityProfile_ProfileType.RuntimeDefault)), true, base, defaultPath),
      undefined,
    );
  });

  it('understands the deprecated seccomp_profile_path strings', async () => {
    for (const p of ['runtime/default', 'docker/default'])
      assert.equal(
        (await containerSeccomp(sc(null, p), false, base, defaultPath))?.defaultAction,
        'SCMP_ACT_ERRNO',
      );
    assert.equal(await containerSeccomp(sc(null, 'unconfined'), false, base, defaultPath), undefined);
    const local = await containerSeccomp(sc(null, `localhost/${blockHostname}`), false, base, defaultPath);
    assert.equal(local?.defaultAction, 'SCMP_ACT_ALLOW');
    await assert.rejects(containerSeccomp(sc(null, 'whatever'), false, base, defaultPath), invalid(/"whatever"/));
    // The structured field wins over the deprecated one.
    assert.equal(
      await containerSeccomp(
        sc(profile(SecurityProfile_ProfileType.Unconfined), 'runtime/default'),
        false,
        base,
        defaultPath,
      ),
      undefined,
    );
  });

  it('refuses unknown profile types', async () => {
    await assert.rejects(
      containerSeccomp(sc(profile(9 as SecurityProfile_ProfileType)), false, base, defaultPath),
      invalid(/seccomp profile type 9/),
    );
  });
});

describe('checkAppArmor (AppArmor disabled)', () => {
  const sc = (apparmor: SecurityProfile | null, legacy = '') => ({ apparmor, apparmor_profile: legacy });

  it('accepts the runtime default and unconfined, structured or legacy', () => {
    checkAppArmor(null);
    checkAppArmor(sc(null));
    checkAppArmor(sc(profile(SecurityProfile_ProfileType.RuntimeDefault)));
    checkAppArmor(sc(profile(SecurityProfile_ProfileType.Unconfined)));
    checkAppArmor(sc(null, 'runtime/default'));
    checkAppArmor(sc(null, 'unconfined'));
  });

  it('refuses a named profile, saying AppArmor is not enabled', () => {
    assert.throws(
      () => checkAppArmor(sc(profile(SecurityProfile_ProfileType.Localhost, 'deny-write'))),
      invalid(/"deny-write" cannot be applied: AppArmor is not enabled/),
    );
    assert.throws(() => checkAppArmor(sc(null, 'localhost/deny-write')), invalid(/AppArmor is not enabled/));
    assert.throws(
      () => checkAppArmor(sc(profile(5 as SecurityProfile_ProfileType))),
      invalid(/type 5 is unknown/),
    );
  });
});
