import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SupplementalGroupsPolicy } from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import { containerUser, type UserSecurityContext } from './container-spec-user.js';

const invalid = (re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === 'InvalidArgument' && re.test(err.message);

function sc(over: Partial<UserSecurityContext> = {}): UserSecurityContext {
  return {
    run_as_user: null,
    run_as_group: null,
    run_as_username: '',
    supplemental_groups: [],
    supplemental_groups_policy: SupplementalGroupsPolicy.Merge,
    ...over,
  };
}

describe('containerUser', () => {
  let rootfs: string;
  let empty: string;
  before(async () => {
    rootfs = await mkdtemp(join(tmpdir(), 'cri-ts-user-'));
    empty = await mkdtemp(join(tmpdir(), 'cri-ts-user-empty-'));
    await mkdir(join(rootfs, 'etc'));
    // The users and groups of critest's test-image-predefined-group.
    await writeFile(
      join(rootfs, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\ndefault-user:x:1000:1000::/home:/bin/sh\n',
    );
    await writeFile(
      join(rootfs, 'etc/group'),
      'root:x:0:\nnogroup:x:65534:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n',
    );
  });
  after(async () => {
    await rm(rootfs, { recursive: true, force: true });
    await rm(empty, { recursive: true, force: true });
  });

  it('Merge (the default): the primary gid, the image’s memberships and the requested groups', async () => {
    const u = await containerUser(rootfs, sc({ run_as_user: { value: 1000n }, supplemental_groups: [1234n] }), '');
    assert.deepEqual(u, { uid: 1000, gid: 1000, supplementalGroups: [1000, 50000, 1234] });
  });

  it('Strict: only the requested groups and the primary gid', async () => {
    const u = await containerUser(
      rootfs,
      sc({
        run_as_user: { value: 1000n },
        supplemental_groups: [1234n],
        supplemental_groups_policy: SupplementalGroupsPolicy.Strict,
      }),
      '',
    );
    assert.deepEqual(u, { uid: 1000, gid: 1000, supplementalGroups: [1000, 1234] });
  });

  it('uses the image USER when the request names no user, in all four forms', async () => {
    assert.deepEqual(await containerUser(rootfs, null, 'default-user'), {
      uid: 1000,
      gid: 1000,
      supplementalGroups: [1000, 50000],
    });
    assert.deepEqual(await containerUser(rootfs, null, '1000'), {
      uid: 1000,
      gid: 1000,
      supplementalGroups: [1000, 50000],
    });
    assert.deepEqual(await containerUser(rootfs, sc(), 'default-user:nogroup'), {
      uid: 1000,
      gid: 65534,
      supplementalGroups: [65534, 50000],
    });
    assert.deepEqual(await containerUser(rootfs, sc(), '1000:4242'), {
      uid: 1000,
      gid: 4242,
      supplementalGroups: [4242, 50000],
    });
    assert.deepEqual(await containerUser(rootfs, null, ''), { uid: 0, gid: 0, supplementalGroups: [0] });
  });

  it('run_as_user and run_as_username replace the image USER, its group included', async () => {
    assert.deepEqual(await containerUser(rootfs, sc({ run_as_user: { value: 65534n } }), 'default-user:root'), {
      uid: 65534,
      gid: 65534,
      supplementalGroups: [65534],
    });
    assert.deepEqual(await containerUser(rootfs, sc({ run_as_username: 'nobody' }), 'default-user'), {
      uid: 65534,
      gid: 65534,
      supplementalGroups: [65534],
    });
  });

  it('run_as_group replaces the primary gid (critest RunAsGroup: 1001:1002)', async () => {
    const u = await containerUser(
      rootfs,
      sc({ run_as_user: { value: 1001n }, run_as_group: { value: 1002n } }),
      '',
    );
    assert.deepEqual(u, { uid: 1001, gid: 1002, supplementalGroups: [1002] });
    const named = await containerUser(
      rootfs,
      sc({ run_as_username: 'default-user', run_as_group: { value: 7n } }),
      '',
    );
    assert.deepEqual(named, { uid: 1000, gid: 7, supplementalGroups: [7, 50000] });
  });

  it('accepts a uid the image does not list, with gid 0', async () => {
    assert.deepEqual(await containerUser(rootfs, sc({ run_as_user: { value: 1001n } }), ''), {
      uid: 1001,
      gid: 0,
      supplementalGroups: [0],
    });
    assert.deepEqual(await containerUser(empty, sc({ run_as_user: { value: 5n } }), ''), {
      uid: 5,
      gid: 0,
      supplementalGroups: [0],
    });
  });

  it('refuses run_as_group without a user', async () => {
    await assert.rejects(
      containerUser(rootfs, sc({ run_as_group: { value: 1002n } }), 'default-user'),
      invalid(/run_as_group is set without run_as_user or run_as_username/),
    );
  });

  it('refuses a user name the image does not have, naming it', async () => {
    await assert.rejects(containerUser(rootfs, sc({ run_as_username: 'alice' }), ''), invalid(/"alice"/));
    await assert.rejects(containerUser(empty, null, 'nginx'), invalid(/user "nginx" is not in/));
    await assert.rejects(containerUser(rootfs, sc({ run_as_username: 'a:b' }), ''), invalid(/holds a colon/));
  });

  it('refuses both run_as_user and run_as_username, out-of-range ids and unknown policies', async () => {
    await assert.rejects(
      containerUser(rootfs, sc({ run_as_user: { value: 1n }, run_as_username: 'nobody' }), ''),
      invalid(/only one of run_as_user and run_as_username/),
    );
    await assert.rejects(
      containerUser(rootfs, sc({ run_as_user: { value: -1n } }), ''),
      invalid(/run_as_user -1/),
    );
    await assert.rejects(
      containerUser(rootfs, sc({ run_as_user: { value: 0n }, supplemental_groups: [1n << 40n] }), ''),
      invalid(/supplemental group/),
    );
    await assert.rejects(
      containerUser(rootfs, sc({ supplemental_groups_policy: 7 as SupplementalGroupsPolicy }), ''),
      invalid(/supplemental_groups_policy 7/),
    );
  });
});
