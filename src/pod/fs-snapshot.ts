import { readFile, stat, statfs } from 'node:fs/promises';
import { unescapeMountPath } from '../oci/mountinfo.js';

/** The filesystem a container's writable layer lives on, named as cAdvisor names it (the mount's source). */
export interface FilesystemSnapshot {
  device: string;
  capacityBytes: bigint;
  inodesTotal: bigint;
  inodesFree: bigint;
}

/** Splits a Linux dev_t (as stat returns it) into major and minor, glibc's encoding. */
export function deviceNumbers(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** The source of the first mount in a mountinfo text whose "major:minor" field matches. */
export function mountSourceOf(mountinfo: string, major: number, minor: number): string | undefined {
  const want = `${String(major)}:${String(minor)}`;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left?.split(' ')[2] !== want || right === undefined) continue;
    const source = right.split(' ')[1];
    if (source !== undefined) return unescapeMountPath(source);
  }
  return undefined;
}

/** /dev/<name> of a block device by its numbers (sysfs uevent), or "major:minor" when sysfs does not say. */
export async function blockDeviceName(major: number, minor: number): Promise<string> {
  const numbers = `${String(major)}:${String(minor)}`;
  const uevent = await readFile(`/sys/dev/block/${numbers}/uevent`, 'utf8').catch(() => '');
  const name = /^DEVNAME=(.+)$/m.exec(uevent)?.[1];
  return name === undefined ? numbers : `/dev/${name}`;
}

/** `mountinfo` is this process's /proc/self/mountinfo text, read once by the caller for all its paths. */
export async function filesystemOf(path: string, mountinfo: string): Promise<FilesystemSnapshot> {
  const [st, fs] = await Promise.all([stat(path, { bigint: true }), statfs(path, { bigint: true })]);
  const { major, minor } = deviceNumbers(st.dev);
  return {
    device: mountSourceOf(mountinfo, major, minor) ?? `${String(major)}:${String(minor)}`,
    capacityBytes: fs.blocks * fs.bsize,
    inodesTotal: fs.files,
    inodesFree: fs.ffree,
  };
}
