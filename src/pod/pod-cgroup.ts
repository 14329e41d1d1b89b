import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupManager } from '../config/config.js';
import type { LinuxContainerResources } from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';

/**
 * Pod cgroups: every container of a pod (the pause container first) nests under the pod's cgroup parent, so a
 * limit on the parent bounds them all. kubelet normally creates the pod cgroup and passes it as cgroup_parent;
 * without one, cri-ts makes its own per-pod parent and removes it with the pod.
 */

export interface CgroupHierarchies {
  /** cgroup v2 mounted at /sys/fs/cgroup with every controller. */
  unified: boolean;
  /** v1 hierarchies: mount point per controller (hybrid hosts also have a v2 mount with few controllers). */
  v1: Map<string, string>;
  v2Root: string | undefined;
}

/** Reads the cgroup mounts of this host from /proc/self/mountinfo. */
export async function cgroupHierarchies(mountinfo = '/proc/self/mountinfo'): Promise<CgroupHierarchies> {
  const v1 = new Map<string, string>();
  let v2Root: string | undefined;
  for (const line of (await readFile(mountinfo, 'utf8')).split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const mountPoint = left.split(' ')[4];
    const [fstype, , superOptions] = right.split(' ');
    if (mountPoint === undefined) continue;
    if (fstype === 'cgroup2') v2Root ??= mountPoint;
    if (fstype === 'cgroup' && superOptions !== undefined) {
      for (const opt of superOptions.split(',')) {
        // Named hierarchies (name=systemd) count too: runc places containers there as well.
        if (['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec'].includes(opt) || opt.startsWith('release_agent'))
          continue;
        v1.set(opt, mountPoint);
      }
    }
  }
  return { unified: v1.size === 0 && v2Root !== undefined, v1, v2Root };
}

/** The pod's cgroup parent, and whether cri-ts owns (creates and removes) it. */
export function podCgroupParent(
  cgroupParent: string,
  sandboxId: string,
  driver: CgroupManager,
): { parent: string; owned: boolean } {
  if (cgroupParent !== '') {
    if (driver === 'systemd' && !cgroupParent.endsWith('.slice')) {
      throw invalidArgument(
        `cgroup_parent ${JSON.stringify(cgroupParent)} is not a systemd slice (the cgroup driver is systemd)`,
      );
    }
    if (driver === 'cgroupfs' && (cgroupParent.includes('..') || cgroupParent.endsWith('.slice'))) {
      throw invalidArgument(
        `cgroup_parent ${JSON.stringify(cgroupParent)} is not a cgroupfs path (the cgroup driver is cgroupfs)`,
      );
    }
    return {
      parent: driver === 'cgroupfs' && !cgroupParent.startsWith('/') ? `/${cgroupParent}` : cgroupParent,
      owned: false,
    };
  }
  return driver === 'systemd'
    ? { parent: `cri_ts_pod_${sandboxId.slice(0, 32)}.slice`, owned: true }
    : { parent: `/cri-ts/pod-${sandboxId}`, owned: true };
}

/** The OCI cgroupsPath of a container of the pod: a cgroupfs path, or runc's "slice:prefix:name" form. */
export function containerCgroupsPath(parent: string, containerId: string, driver: CgroupManager): string {
  return driver === 'systemd' ? `${parent}:cri-ts:${containerId}` : `${parent}/cri-ts-${containerId}`;
}

/** cgroup v1 cpu.shares to v2 cpu.weight, the conversion runc and kubelet use. */
export function sharesToWeight(shares: bigint): bigint {
  if (shares === 0n) return 0n;
  return 1n + ((shares - 2n) * 9999n) / 262142n;
}

/** The files and values a pod limit becomes on this host's hierarchy (relative to each controller's dir). */
export function limitFiles(
  resources: LinuxContainerResources,
  unified: boolean,
): { controller: string; file: string; value: string }[] {
  const out: { controller: string; file: string; value: string }[] = [];
  const r = resources;
  if (unified) {
    if (r.cpu_shares > 0n)
      out.push({ controller: '', file: 'cpu.weight', value: String(sharesToWeight(r.cpu_shares)) });
    if (r.cpu_quota !== 0n || r.cpu_period !== 0n) {
      out.push({
        controller: '',
        file: 'cpu.max',
        value: `${r.cpu_quota > 0n ? String(r.cpu_quota) : 'max'} ${String(r.cpu_period > 0n ? r.cpu_period : 100000n)}`,
      });
    }
    if (r.memory_limit_in_bytes > 0n)
      out.push({ controller: '', file: 'memory.max', value: String(r.memory_limit_in_bytes) });
    for (const [file, value] of Object.entries(r.unified)) out.push({ controller: '', file, value });
    return out;
  }
  if (r.cpu_shares > 0n) out.push({ controller: 'cpu', file: 'cpu.shares', value: String(r.cpu_shares) });
  if (r.cpu_period > 0n) out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(r.cpu_period) });
  if (r.cpu_quota !== 0n) out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(r.cpu_quota) });
  if (r.memory_limit_in_bytes > 0n)
    out.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(r.memory_limit_in_bytes) });
  return out;
}

/** Pod resources plus the sandbox overhead: the pod cgroup must hold both. */
export function podLimits(
  resources: LinuxContainerResources | null,
  overhead: LinuxContainerResources | null,
): LinuxContainerResources | undefined {
  if (resources === null && overhead === null) return undefined;
  const zero: LinuxContainerResources = {
    cpu_period: 0n,
    cpu_quota: 0n,
    cpu_shares: 0n,
    memory_limit_in_bytes: 0n,
    oom_score_adj: 0n,
    cpuset_cpus: '',
    cpuset_mems: '',
    hugepage_limits: [],
    unified: {},
    memory_swap_limit_in_bytes: 0n,
  };
  const a = resources ?? zero;
  const b = overhead ?? zero;
  return {
    ...zero,
    cpu_period: a.cpu_period > 0n ? a.cpu_period : b.cpu_period,
    cpu_quota: a.cpu_quota > 0n && b.cpu_quota >= 0n ? a.cpu_quota + b.cpu_quota : 0n,
    cpu_shares: a.cpu_shares + b.cpu_shares,
    memory_limit_in_bytes: a.memory_limit_in_bytes > 0n ? a.memory_limit_in_bytes + b.memory_limit_in_bytes : 0n,
    unified: { ...b.unified, ...a.unified },
  };
}

/** Creates the pod cgroup (cgroupfs) and writes the pod limits into it. */
export async function applyPodLimits(
  h: CgroupHierarchies,
  parent: string,
  resources: LinuxContainerResources,
): Promise<void> {
  const files = limitFiles(resources, h.unified);
  for (const f of files) {
    const mount = h.unified ? h.v2Root : h.v1.get(f.controller);
    if (mount === undefined) continue;
    const dir = join(mount, parent);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, f.file), f.value);
  }
}

/** Removes a pod cgroup cri-ts created, in every hierarchy; gone already is fine. */
export async function removePodCgroup(h: CgroupHierarchies, parent: string): Promise<void> {
  const mounts = [...new Set(h.v1.values())].map((m) => join(m, parent));
  if (h.v2Root !== undefined) mounts.push(join(h.v2Root, parent));
  for (const dir of mounts) {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        // EBUSY: the last process of a child is still leaving; the kernel frees it within moments.
        if (code !== 'EBUSY' || attempt === 4) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  // The "/cri-ts" level above cri-ts's own pod dirs goes once its last pod has gone.
  if (parent.startsWith('/cri-ts/')) {
    for (const dir of [...mounts].map((m) => join(m, '..'))) await rmdir(dir).catch(() => undefined);
  }
}
