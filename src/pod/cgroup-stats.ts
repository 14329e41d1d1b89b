import { cgroupFileReader, readCgroupSnapshot } from './cgroup-snapshot.js';
import type { CgroupHierarchies } from './pod-cgroup.js';

export interface CgroupStats {
  /** Cumulative CPU time in nanoseconds. */
  cpuUsageNs: bigint;
  memoryUsage: bigint;
  /** Usage minus inactive file pages: what kubelet evicts on, as cAdvisor computes it. */
  workingSet: bigint;
  rss: bigint;
  pageFaults: bigint;
  majorPageFaults: bigint;
  /** Tasks in the cgroup and all below it (pids.current counts hierarchically, threads included). */
  processes: bigint;
}

/** CPU, memory and process counts of a cgroupfs path, on cgroup v1 or v2: the stats RPCs' view of a snapshot. */
export async function cgroupStats(h: CgroupHierarchies, path: string): Promise<CgroupStats> {
  const { cpu, memory, pids } = await readCgroupSnapshot(h.unified, cgroupFileReader(h, path));
  // The pod cgroup has children: faults count with them, as the hierarchical v1 totals did.
  const faults = (type: 'pgfault' | 'pgmajfault') =>
    memory.faults.find((f) => f.type === type && f.scope === 'hierarchy')?.count ?? 0n;
  return {
    cpuUsageNs: cpu.usageNs ?? 0n,
    memoryUsage: memory.usage ?? 0n,
    workingSet: memory.workingSet ?? 0n,
    rss: memory.rss ?? 0n,
    pageFaults: faults('pgfault'),
    majorPageFaults: faults('pgmajfault'),
    processes: pids.current ?? 0n,
  };
}
