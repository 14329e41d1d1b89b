import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CriError } from '../errors/errors.js';
import { defaultCapabilities } from './capabilities.js';
import { convertSeccompProfile, parseKernel, parseSeccompProfile, type SeccompTarget } from './seccomp-convert.js';
import { builtInSeccompProfile } from './seccomp-default.js';
import type { OciSeccomp } from './spec-types.js';

const amd64: SeccompTarget = { capabilities: [...defaultCapabilities], arch: 'amd64', kernel: '6.1.0-18-amd64' };
const invalid = (re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === 'InvalidArgument' && re.test(err.message);

/** The action the filter takes for a syscall without arguments: the first rule naming it, else the default. */
function actionFor(s: OciSeccomp, name: string): string {
  const rule = s.syscalls?.find((r) => r.names.includes(name) && (r.args === undefined || r.args.length === 0));
  return rule?.action ?? s.defaultAction;
}

const systemProfile = '/usr/share/containers/seccomp.json';

describe('convertSeccompProfile', () => {
  const profile = parseSeccompProfile(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      archMap: [
        { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
        { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
      ],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], includes: {}, excludes: {} },
        { names: ['sethostname'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['sethostname'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['both'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] } },
        { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
        { names: ['arm_only'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['not_on_amd64'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
        { names: ['new_call'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '6.2' } },
        { names: ['old_fallback'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '6.2' } },
        { name: 'single', action: 'SCMP_ACT_ALLOW' },
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 4294967295, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
        },
      ],
    },
    'test.json',
  );

  it('keeps this architecture with its sub-architectures and the default errno', () => {
    const s = convertSeccompProfile(profile, amd64);
    assert.ok(s !== undefined);
    assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(s['defaultErrnoRet'], 38);
    assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const arm = convertSeccompProfile(profile, { ...amd64, arch: 'arm64' });
    assert.deepEqual(arm?.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });

  it('filters rules by capabilities: includes need all, excludes drop on any', () => {
    const without = convertSeccompProfile(profile, amd64);
    assert.ok(without !== undefined);
    assert.equal(actionFor(without, 'sethostname'), 'SCMP_ACT_ERRNO');
    assert.equal(without.syscalls?.find((r) => r.names.includes('sethostname'))?.errnoRet, 1);
    const withAdmin = convertSeccompProfile(profile, { ...amd64, capabilities: ['SYS_ADMIN', 'chown'] });
    assert.ok(withAdmin !== undefined);
    assert.equal(actionFor(withAdmin, 'sethostname'), 'SCMP_ACT_ALLOW');
    assert.equal(withAdmin.syscalls?.filter((r) => r.names.includes('sethostname')).length, 1);
    assert.equal(actionFor(withAdmin, 'both'), 'SCMP_ACT_ERRNO', 'one of two required capabilities is not enough');
    const withBoth = convertSeccompProfile(profile, {
      ...amd64,
      capabilities: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'],
    });
    assert.ok(withBoth !== undefined);
    assert.equal(actionFor(withBoth, 'both'), 'SCMP_ACT_ALLOW');
  });

  it('filters rules by architecture and kernel version', () => {
    const s = convertSeccompProfile(profile, amd64);
    assert.ok(s !== undefined);
    const names = new Set(s.syscalls?.flatMap((r) => r.names));
    assert.ok(names.has('arch_prctl'));
    assert.ok(!names.has('arm_only'));
    assert.ok(!names.has('not_on_amd64'));
    assert.ok(!names.has('new_call'), 'kernel 6.1 is older than 6.2');
    assert.ok(names.has('old_fallback'));
    const newer = convertSeccompProfile(profile, { ...amd64, kernel: '6.18.44-fc' });
    const newerNames = new Set(newer?.syscalls?.flatMap((r) => r.names));
    assert.ok(newerNames.has('new_call'));
    assert.ok(!newerNames.has('old_fallback'));
    const arm = new Set(
      convertSeccompProfile(profile, { ...amd64, arch: 'arm64' })?.syscalls?.flatMap((r) => r.names),
    );
    assert.ok(arm.has('arm_only') && arm.has('not_on_amd64') && !arm.has('arch_prctl'));
  });

  it('writes runtime-spec rules: names lists, args only when present, no Docker-only fields', () => {
    const s = convertSeccompProfile(profile, amd64);
    assert.ok(s !== undefined);
    assert.deepEqual(s.syscalls?.[0], { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' });
    assert.deepEqual(
      s.syscalls.find((r) => r.names.includes('single')),
      { names: ['single'], action: 'SCMP_ACT_ALLOW' },
    );
    assert.deepEqual(s.syscalls.find((r) => r.names.includes('personality'))?.args, [
      { index: 0, value: 4294967295, valueTwo: 0, op: 'SCMP_CMP_EQ' },
    ]);
    const text = JSON.stringify(s);
    for (const docker of ['archMap', 'includes', 'excludes', 'subArchitectures', 'minKernel'])
      assert.ok(!text.includes(docker), `${docker} is not a runtime-spec field`);
  });

  it('passes a profile already in runtime-spec form through unchanged', () => {
    const oci = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' }],
    };
    assert.deepEqual(convertSeccompProfile(parseSeccompProfile(oci, 'oci.json'), amd64), oci);
  });

  it('treats a profile with no default action and no rules as no seccomp', () => {
    assert.equal(convertSeccompProfile(parseSeccompProfile({}, 'empty.json'), amd64), undefined);
  });

  it('refuses malformed profiles, naming the file and the field', () => {
    assert.throws(() => parseSeccompProfile([], 'a.json'), invalid(/a\.json is not a JSON object/));
    assert.throws(
      () => parseSeccompProfile({ defaultAction: 'ALLOW' }, 'b.json'),
      invalid(/b\.json: defaultAction/),
    );
    assert.throws(
      () => parseSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'] }] }, 'c.json'),
      invalid(/syscalls\[0\]\.action/),
    );
    assert.throws(
      () =>
        parseSeccompProfile(
          { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] },
          'd.json',
        ),
      invalid(/both name and names/),
    );
    assert.throws(
      () =>
        parseSeccompProfile(
          {
            defaultAction: 'SCMP_ACT_ALLOW',
            architectures: ['SCMP_ARCH_X86_64'],
            archMap: [{ architecture: 'x' }],
          },
          'e.json',
        ),
      invalid(/both architectures and archMap/),
    );
    assert.throws(
      () => parseSeccompProfile({ syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }, 'f.json'),
      invalid(/without a defaultAction/),
    );
    assert.throws(
      () =>
        parseSeccompProfile(
          {
            defaultAction: 'SCMP_ACT_ALLOW',
            syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0 }] }],
          },
          'g.json',
        ),
      invalid(/SCMP_CMP_ op/),
    );
    assert.throws(
      () =>
        parseSeccompProfile(
          {
            defaultAction: 'SCMP_ACT_ALLOW',
            syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'new' } }],
          },
          'h.json',
        ),
      invalid(/minKernel/),
    );
  });

  it('reads kernel releases as major.minor', () => {
    assert.deepEqual(parseKernel('6.18.44-fc-v669'), [6, 18]);
    assert.deepEqual(parseKernel('5.10'), [5, 10]);
    assert.equal(parseKernel('unknown'), undefined);
  });
});

describe('the default profiles', () => {
  it(
    'containers-common (when installed): refuses by default, allows ordinary calls, gates admin calls on CAP_SYS_ADMIN',
    { skip: !existsSync(systemProfile) },
    () => {
      const profile = parseSeccompProfile(
        JSON.parse(readFileSync(systemProfile, 'utf8')) as unknown,
        systemProfile,
      );
      const s = convertSeccompProfile(profile, amd64);
      assert.ok(s !== undefined);
      assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
      assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
      for (const call of ['read', 'write', 'openat', 'execve', 'clone', 'exit_group', 'arch_prctl'])
        assert.equal(actionFor(s, call), 'SCMP_ACT_ALLOW', `${call} is allowed`);
      for (const call of ['kexec_load', 'swapon', 'userfaultfd'])
        assert.equal(actionFor(s, call), 'SCMP_ACT_ERRNO');
      for (const call of ['sethostname', 'setdomainname', 'bpf', 'quotactl', 'fanotify_init'])
        assert.equal(actionFor(s, call), 'SCMP_ACT_ERRNO', `${call} needs CAP_SYS_ADMIN`);
      const admin = convertSeccompProfile(profile, {
        ...amd64,
        capabilities: [...defaultCapabilities, 'CAP_SYS_ADMIN'],
      });
      assert.ok(admin !== undefined);
      for (const call of ['sethostname', 'setdomainname', 'bpf', 'quotactl', 'fanotify_init'])
        assert.equal(actionFor(admin, call), 'SCMP_ACT_ALLOW', `${call} is allowed with CAP_SYS_ADMIN`);
      const names = new Set(s.syscalls?.flatMap((r) => r.names));
      assert.ok(!names.has('s390_runtime_instr') && !names.has('arm_fadvise64_64'));
    },
  );

  it("cri-ts's own fallback: allows by default, refuses host-kernel calls, gates admin calls on their capability", () => {
    const s = convertSeccompProfile(builtInSeccompProfile, amd64);
    assert.ok(s !== undefined);
    assert.equal(s.defaultAction, 'SCMP_ACT_ALLOW');
    for (const call of [
      'init_module',
      'kexec_load',
      'open_by_handle_at',
      'mount',
      'sethostname',
      'reboot',
      'ptrace',
    ])
      assert.equal(actionFor(s, call), 'SCMP_ACT_ERRNO', `${call} is refused`);
    const admin = convertSeccompProfile(builtInSeccompProfile, {
      ...amd64,
      capabilities: [...defaultCapabilities, 'CAP_SYS_ADMIN'],
    });
    assert.ok(admin !== undefined);
    assert.equal(actionFor(admin, 'mount'), 'SCMP_ACT_ALLOW', 'mount with CAP_SYS_ADMIN');
    assert.equal(actionFor(admin, 'init_module'), 'SCMP_ACT_ERRNO', 'modules never');
    for (const r of s.syscalls ?? []) {
      assert.ok(r.names.length > 0 && r.action.startsWith('SCMP_ACT_'));
      assert.deepEqual(
        Object.keys(r).filter((k) => !['names', 'action', 'errnoRet', 'args'].includes(k)),
        [],
      );
    }
  });
});
