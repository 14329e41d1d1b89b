import { lstat, readdir, realpath } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Device } from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';
import type { OciDevice, OciDeviceRule } from '../oci/spec-types.js';

export interface ContainerDevices {
  devices: OciDevice[];
  /** Device cgroup allowances matching the devices. */
  rules: OciDeviceRule[];
}

/**
 * Linux's 64-bit dev_t (glibc's gnu_dev_major/minor): 32-bit major and minor, each split into a low part in the
 * old 16-bit layout and a high part above it. The masks keep each number to its 32 bits.
 */
export function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n));
}

export function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n));
}

/** The device node at `hostPath` (not following a final symlink), or undefined when it is no device. */
export async function deviceAt(hostPath: string, containerPath: string): Promise<OciDevice | undefined> {
  const st = await lstat(hostPath, { bigint: true });
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : undefined;
  if (type === undefined) return undefined;
  return {
    path: containerPath,
    type,
    major: devMajor(st.rdev),
    minor: devMinor(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** containerd's choice: a host's /dev minus the pseudo-terminal, shm, fd and mqueue trees and the console. */
const skippedDirs = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under `dir`, each at the same path in the container; what privileged containers get. */
export async function hostDevices(dir = '/dev'): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) {
        if (d === dir && skippedDirs.has(entry.name)) continue;
        await walk(path);
      } else if (!(d === dir && entry.name === 'console')) {
        const dev = await deviceAt(path, path).catch(() => undefined);
        if (dev !== undefined) out.push(dev);
      }
    }
  };
  await walk(dir);
  return out;
}

/**
 * The request's devices: each host path (symlinks followed, as /dev/disk/by-id names are links) must be a device
 * node, or a directory whose device nodes are all passed at the same relative paths; each gets a cgroup allowance
 * with the requested permissions (r, w, m; empty means all three).
 */
export async function containerDevices(requested: readonly Device[]): Promise<ContainerDevices> {
  const devices: OciDevice[] = [];
  const rules: OciDeviceRule[] = [];
  for (const d of requested) {
    const access = d.permissions === '' ? 'rwm' : d.permissions;
    if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length)
      throw invalidArgument(
        `device ${d.host_path}: permissions ${JSON.stringify(d.permissions)} are not a subset of rwm`,
      );
    if (!posix.isAbsolute(d.host_path))
      throw invalidArgument(`device host_path ${JSON.stringify(d.host_path)} is not absolute`);
    const containerPath = d.container_path === '' ? d.host_path : d.container_path;
    if (!posix.isAbsolute(containerPath))
      throw invalidArgument(`device container_path ${JSON.stringify(containerPath)} is not absolute`);
    let source: string;
    try {
      source = await realpath(d.host_path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw invalidArgument(`device ${d.host_path} does not exist`);
      throw err;
    }
    const found: OciDevice[] = [];
    if ((await lstat(source)).isDirectory()) {
      for (const dev of await hostDevices(source))
        found.push({ ...dev, path: posix.join(containerPath, posix.relative(source, dev.path)) });
    } else {
      const dev = await deviceAt(source, containerPath);
      if (dev === undefined) throw invalidArgument(`device ${d.host_path} is not a device node`);
      found.push(dev);
    }
    for (const dev of found) {
      devices.push(dev);
      // FIFOs are not governed by the device cgroup.
      if (dev.type !== 'c' && dev.type !== 'b') continue;
      rules.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access });
    }
  }
  return { devices, rules };
}
