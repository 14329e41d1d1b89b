import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CriError } from '../errors/errors.js';
import {
  checkId,
  memberGroups,
  parseGroup,
  parsePasswd,
  readImageFile,
  resolveInRoot,
  resolveUser,
} from './image-user.js';

const invalid = (re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === 'InvalidArgument' && re.test(err.message);

const passwd = parsePasswd(
  [
    'root:x:0:0:root:/root:/bin/sh',
    '# a comment',
    '',
    'daemon:x:1:1::/:/sbin/nologin',
    'default-user:x:1000:1000::/home/default-user:/bin/sh',
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
    'broken:x:notanumber:0::/:/bin/sh',
    '+nisuser::::::',
  ].join('\n'),
);
const groups = parseGroup(
  [
    'root:x:0:',
    'wheel:x:10:root,default-user',
    'default-user:x:1000:',
    'group-defined-in-image:x:50000:default-user',
    'nogroup:x:65534:',
    'again:x:50000:default-user',
  ].join('\n'),
);

describe('passwd and group parsing', () => {
  it('keeps well-formed entries and skips comments, blanks, NIS lines and bad numbers', () => {
    assert.deepEqual(
      passwd.map((p) => p.name),
      ['root', 'daemon', 'default-user', 'nobody'],
    );
    assert.deepEqual(passwd[2], { name: 'default-user', uid: 1000, gid: 1000 });
    assert.deepEqual(groups[1], { name: 'wheel', gid: 10, members: ['root', 'default-user'] });
    assert.deepEqual(groups[0]?.members, []);
  });

  it('lists a user’s memberships once each, in file order', () => {
    assert.deepEqual(memberGroups('default-user', groups), [10, 50000]);
    assert.deepEqual(memberGroups('nobody', groups), []);
  });
});

describe('resolveUser', () => {
  it('resolves names and uids, taking the primary gid from passwd', () => {
    assert.deepEqual(resolveUser('default-user', passwd, groups), { uid: 1000, gid: 1000, name: 'default-user' });
    assert.deepEqual(resolveUser('1000', passwd, groups), { uid: 1000, gid: 1000, name: 'default-user' });
    assert.deepEqual(resolveUser('nobody', passwd, groups), { uid: 65534, gid: 65534, name: 'nobody' });
  });

  it('treats an empty user as root', () => {
    assert.deepEqual(resolveUser('', passwd, groups), { uid: 0, gid: 0, name: 'root' });
  });

  it('accepts a uid the image does not list, with gid 0', () => {
    assert.deepEqual(resolveUser('1234', passwd, groups), { uid: 1234, gid: 0 });
    assert.deepEqual(resolveUser('1234', [], []), { uid: 1234, gid: 0 });
  });

  it('resolves explicit groups by name or gid; unknown numeric gids are used as is', () => {
    assert.deepEqual(resolveUser('default-user:wheel', passwd, groups), {
      uid: 1000,
      gid: 10,
      name: 'default-user',
    });
    assert.deepEqual(resolveUser('1000:50000', passwd, groups), { uid: 1000, gid: 50000, name: 'default-user' });
    assert.deepEqual(resolveUser('4000:4001', passwd, groups), { uid: 4000, gid: 4001 });
    assert.deepEqual(resolveUser('nobody:', passwd, groups), { uid: 65534, gid: 65534, name: 'nobody' });
  });

  it('refuses unknown names, naming them', () => {
    assert.throws(
      () => resolveUser('alice', passwd, groups),
      invalid(/user "alice" is not in the image's \/etc\/passwd/),
    );
    assert.throws(
      () => resolveUser('root:staff', passwd, groups),
      invalid(/group "staff" is not in the image's \/etc\/group/),
    );
  });

  it('refuses ids outside 0..2^31-1', () => {
    assert.throws(() => resolveUser('4294967296', passwd, groups), invalid(/uid 4294967296 is outside/));
    assert.throws(() => resolveUser('0:2147483648', passwd, groups), invalid(/gid 2147483648 is outside/));
    assert.throws(() => checkId(-1n, 'run_as_user'), invalid(/run_as_user -1 is outside/));
    assert.equal(checkId(2147483647n, 'x'), 2147483647);
  });
});

describe('reading files of the image', () => {
  let root: string;
  let outside: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'cri-ts-rootfs-'));
    outside = await mkdtemp(join(tmpdir(), 'cri-ts-host-'));
    await writeFile(join(outside, 'secret'), 'host:x:0:0::/:/bin/sh\n');
    await mkdir(join(root, 'etc'));
    await mkdir(join(root, 'usr/lib'), { recursive: true });
    await writeFile(join(root, 'usr/lib/passwd'), 'image:x:7:7::/:/bin/sh\n');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('follows an absolute symlink inside the image, not on the host', async () => {
    await symlink('/usr/lib/passwd', join(root, 'etc/passwd'));
    assert.equal(await resolveInRoot(root, '/etc/passwd'), join(root, 'usr/lib/passwd'));
    assert.equal(await readImageFile(root, '/etc/passwd'), 'image:x:7:7::/:/bin/sh\n');
    await rm(join(root, 'etc/passwd'));
  });

  it('keeps .. and absolute links that point at host files inside the image', async () => {
    // A link to the host's file by absolute path lands inside the rootfs, where it does not exist.
    await symlink(join(outside, 'secret'), join(root, 'etc/group'));
    assert.equal(await readImageFile(root, '/etc/group'), undefined);
    await rm(join(root, 'etc/group'));
    // A relative link climbing out stops at the rootfs.
    await symlink('../../../../../../../../../..' + join(outside, 'secret'), join(root, 'etc/group'));
    assert.equal(await resolveInRoot(root, '/etc/group'), join(root, outside, 'secret'));
    assert.equal(await readImageFile(root, '/etc/group'), undefined);
    await rm(join(root, 'etc/group'));
    assert.equal(await resolveInRoot(root, '/../../etc/../etc/passwd'), join(root, 'etc/passwd'));
  });

  it('follows a symlinked directory relative to it', async () => {
    await mkdir(join(root, 'real-etc'));
    await writeFile(join(root, 'real-etc/group'), 'g:x:5:\n');
    await symlink('../real-etc', join(root, 'usr/etc'));
    assert.equal(await readImageFile(root, '/usr/etc/group'), 'g:x:5:\n');
  });

  it('stops symlink loops', async () => {
    await symlink('loop-b', join(root, 'loop-a'));
    await symlink('loop-a', join(root, 'loop-b'));
    await assert.rejects(resolveInRoot(root, '/loop-a/passwd'), invalid(/too many symlinks/));
  });

  it('returns nothing for a missing file or one under a missing directory', async () => {
    assert.equal(await readImageFile(root, '/etc/shadow'), undefined);
    assert.equal(await readImageFile(root, '/nope/etc/passwd'), undefined);
  });

  it('ignores a FIFO or a directory at the path instead of hanging or failing', async () => {
    execFileSync('mkfifo', [join(root, 'etc/fifo')]);
    assert.equal(await readImageFile(root, '/etc/fifo'), undefined);
    assert.equal(await readImageFile(root, '/etc'), undefined);
  });
});
