import { join } from 'node:path';
import { readCgroupNumber, readFlatKeyed } from './cgroup-files.js';
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

/** CPU, memory and process counts of a cgroupfs path, on cgroup v1 or v2. */
export async function cgroupStats(h: CgroupHierarchies, path: string): Promise<CgroupStats> {
  if (h.unified && h.v2Root !== undefined) {
    const dir = join(h.v2Root, path);
    const cpu = await readFlatKeyed(join(dir, 'cpu.stat'));
    const mem = await readFlatKeyed(join(dir, 'memory.stat'));
    const usage = (await readCgroupNumber(join(dir, 'memory.current'))) ?? 0n;
    const inactive = mem.get('inactive_file') ?? 0n;
    return {
      cpuUsageNs: (cpu.get('usage_usec') ?? 0n) * 1000n,
      memoryUsage: usage,
      workingSet: usage > inactive ? usage - inactive : 0n,
      rss: mem.get('anon') ?? 0n,
      pageFaults: mem.get('pgfault') ?? 0n,
      majorPageFaults: mem.get('pgmajfault') ?? 0n,
      processes: (await readCgroupNumber(join(dir, 'pids.current'))) ?? 0n,
    };
  }
  const at = (controller: string, file: string): string =>
    join(h.v1.get(controller) ?? '/nonexistent', path, file);
  const mem = await readFlatKeyed(at('memory', 'memory.stat'));
  const usage = (await readCgroupNumber(at('memory', 'memory.usage_in_bytes'))) ?? 0n;
  const inactive = mem.get('total_inactive_file') ?? 0n;
  return {
    cpuUsageNs: (await readCgroupNumber(at('cpuacct', 'cpuacct.usage'))) ?? 0n,
    memoryUsage: usage,
    workingSet: usage > inactive ? usage - inactive : 0n,
    rss: mem.get('total_rss') ?? 0n,
    pageFaults: mem.get('total_pgfault') ?? 0n,
    majorPageFaults: mem.get('total_pgmajfault') ?? 0n,
    processes: (await readCgroupNumber(at('pids', 'pids.current'))) ?? 0n,
  };
}
