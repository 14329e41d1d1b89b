import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors/errors.js';

/**
 * Users and groups as the image defines them, read from the container's rootfs. The rootfs is untrusted image
 * content: /etc/passwd may be a symlink (absolute links mean "inside the image"), a FIFO or a device, so paths are
 * resolved component by component inside the rootfs and only regular files of sane size are read.
 */

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** What an image USER ("name", "uid", "name:group", "uid:gid") resolves to. */
export interface ImageUser {
  uid: number;
  gid: number;
  /** The passwd name of the user when /etc/passwd lists it: the key of its memberships in /etc/group. */
  name?: string;
}

/** Linux ids are 32-bit; runc refuses anything above INT32_MAX, and so do we. */
const maxId = 2 ** 31 - 1;
const maxLinks = 40;
const maxFileBytes = 32 << 20;

/** A CRI or image id: a decimal in 0…2^31-1; `what` names it in the error. */
export function checkId(value: number | bigint, what: string): number {
  const n = typeof value === 'bigint' ? value : BigInt(value);
  if (n < 0n || n > BigInt(maxId)) throw invalidArgument(`${what} ${String(value)} is outside 0..${maxId}`);
  return Number(n);
}

const numeric = (s: string): boolean => /^\d+$/.test(s);

/**
 * `path` (absolute, as seen inside the container) resolved on the host without ever leaving `root`: symlinks are
 * followed by hand, an absolute target restarts at `root`, `..` stops at `root`. A missing component ends the walk:
 * the rest cannot exist either.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  let done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = join(root, ...done, part);
    let isLink: boolean;
    try {
      isLink = (await lstat(here)).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
        return join(here, ...pending);
      throw err;
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (++links > maxLinks) throw invalidArgument(`too many symlinks resolving ${path} in the image`);
    const target = await readlink(here);
    if (target.startsWith('/')) done = [];
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return join(root, ...done);
}

/**
 * The text of a file of the image, or undefined when it is missing or not a regular file. O_NOFOLLOW closes the
 * gap between resolving and opening; O_NONBLOCK keeps a FIFO planted at the path from hanging the open.
 */
export async function readImageFile(root: string, path: string): Promise<string | undefined> {
  const host = await resolveInRoot(root, path);
  let handle;
  try {
    handle = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return undefined;
    if (st.size > maxFileBytes) throw invalidArgument(`${path} in the image is larger than 32 MiB`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Lines of a colon-separated database; blank, comment and NIS (+/-) lines are skipped as glibc does. */
function records(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('+') && !l.startsWith('-'))
    .map((l) => l.split(':'));
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const [name = '', , uid = '', gid = ''] of records(text)) {
    if (name === '' || !numeric(uid) || !numeric(gid)) continue;
    out.push({ name, uid: Number(uid), gid: Number(gid) });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const [name = '', , gid = '', members = ''] of records(text)) {
    if (name === '' || !numeric(gid)) continue;
    out.push({ name, gid: Number(gid), members: members.split(',').filter((m) => m !== '') });
  }
  return out;
}

export async function imagePasswd(rootfs: string): Promise<PasswdEntry[]> {
  const text = await readImageFile(rootfs, '/etc/passwd');
  return text === undefined ? [] : parsePasswd(text);
}

export async function imageGroups(rootfs: string): Promise<GroupEntry[]> {
  const text = await readImageFile(rootfs, '/etc/group');
  return text === undefined ? [] : parseGroup(text);
}

/**
 * Resolves a USER string the way runc (and so Docker, containerd and cri-o) does: the user by name or uid (the
 * first matching line), its primary gid from passwd; an explicit group by name or gid. A numeric user or group the
 * image does not list is used as is (gid 0 for an unlisted uid); a name it does not list is an error.
 */
export function resolveUser(
  spec: string,
  passwd: readonly PasswdEntry[],
  groups: readonly GroupEntry[],
): ImageUser {
  const colon = spec.indexOf(':');
  const userPart = colon === -1 ? spec : spec.slice(0, colon);
  const groupPart = colon === -1 ? undefined : spec.slice(colon + 1);
  // An empty user is root, as in Docker.
  const user = userPart === '' ? '0' : userPart;
  const entry = passwd.find((p) => p.name === user || (numeric(user) && p.uid === Number(user)));
  let resolved: ImageUser;
  if (entry !== undefined) {
    resolved = { uid: checkId(entry.uid, `uid of user ${entry.name}`), gid: entry.gid, name: entry.name };
  } else if (numeric(user)) {
    resolved = { uid: checkId(Number(user), 'uid'), gid: 0 };
  } else {
    throw invalidArgument(`user ${JSON.stringify(user)} is not in the image's /etc/passwd`);
  }
  if (groupPart !== undefined && groupPart !== '') {
    const group = groups.find((g) => g.name === groupPart || (numeric(groupPart) && g.gid === Number(groupPart)));
    if (group !== undefined) resolved.gid = group.gid;
    else if (numeric(groupPart)) resolved.gid = Number(groupPart);
    else throw invalidArgument(`group ${JSON.stringify(groupPart)} is not in the image's /etc/group`);
  }
  resolved.gid = checkId(resolved.gid, 'gid');
  return resolved;
}

/** The gids of the groups /etc/group lists `name` as a member of, in file order, without repeats. */
export function memberGroups(name: string, groups: readonly GroupEntry[]): number[] {
  return [...new Set(groups.filter((g) => g.members.includes(name)).map((g) => g.gid))];
}
