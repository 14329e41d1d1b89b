import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
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

async function readNumber(path: string): Promise<bigint> {
  const text = (await readFile(path, 'utf8').catch(() => '0')).trim();
  return /^\d+$/.test(text) ? BigInt(text) : 0n;
}

async function readKeyed(path: string): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const line of (await readFile(path, 'utf8').catch(() => '')).split('\n')) {
    const [key, value] = line.split(' ');
    if (key !== undefined && value !== undefined && /^\d+$/.test(value)) out.set(key, BigInt(value));
  }
  return out;
}

/** CPU, memory and process counts of a cgroupfs path, on cgroup v1 or v2. */
export async function cgroupStats(h: CgroupHierarchies, path: string): Promise<CgroupStats> {
  if (h.unified && h.v2Root !== undefined) {
    const dir = join(h.v2Root, path);
    const cpu = await readKeyed(join(dir, 'cpu.stat'));
    const mem = await readKeyed(join(dir, 'memory.stat'));
    const usage = await readNumber(join(dir, 'memory.current'));
    const inactive = mem.get('inactive_file') ?? 0n;
    return {
      cpuUsageNs: (cpu.get('usage_usec') ?? 0n) * 1000n,
      memoryUsage: usage,
      workingSet: usage > inactive ? usage - inactive : 0n,
      rss: mem.get('anon') ?? 0n,
      pageFaults: mem.get('pgfault') ?? 0n,
      majorPageFaults: mem.get('pgmajfault') ?? 0n,
      processes: await readNumber(join(dir, 'pids.current')),
    };
  }
  const at = (controller: string, file: string): string =>
    join(h.v1.get(controller) ?? '/nonexistent', path, file);
  const mem = await readKeyed(at('memory', 'memory.stat'));
  const usage = await readNumber(at('memory', 'memory.usage_in_bytes'));
  const inactive = mem.get('total_inactive_file') ?? 0n;
  return {
    cpuUsageNs: await readNumber(at('cpuacct', 'cpuacct.usage')),
    memoryUsage: usage,
    workingSet: usage > inactive ? usage - inactive : 0n,
    rss: mem.get('total_rss') ?? 0n,
    pageFaults: mem.get('total_pgfault') ?? 0n,
    majorPageFaults: mem.get('total_pgmajfault') ?? 0n,
    processes: await readNumber(at('pids', 'pids.current')),
  };
}
