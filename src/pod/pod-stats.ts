import { readFile } from 'node:fs/promises';
import { cgroupStats, type CgroupStats } from './cgroup-stats.js';
import { runInNamespaces } from './namespaces.js';
import type { CgroupHierarchies } from './pod-cgroup.js';
import type { SandboxRecord } from './sandbox.js';

export interface InterfaceStats {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

/** Parses /proc/net/dev: per interface, bytes, packets, errors and drops each way (loopback left out, as cAdvisor does). */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (name === undefined || rest === undefined) continue;
    const f = rest
      .trim()
      .split(/\s+/)
      .map((v) => BigInt(/^\d+$/.test(v) ? v : '0'));
    const iface = name.trim();
    if (iface === 'lo') continue;
    out.push({
      name: iface,
      rxBytes: f[0] ?? 0n,
      rxPackets: f[1] ?? 0n,
      rxErrors: f[2] ?? 0n,
      rxDropped: f[3] ?? 0n,
      txBytes: f[8] ?? 0n,
      txPackets: f[9] ?? 0n,
      txErrors: f[10] ?? 0n,
      txDropped: f[11] ?? 0n,
    });
  }
  return out;
}

/** The pod's interfaces as seen inside its network namespace (the host's for host-network pods). */
export async function podNetworkStats(s: SandboxRecord, signal: AbortSignal): Promise<InterfaceStats[]> {
  if (s.hostNetwork || s.namespaces.net === undefined) return parseNetDev(await readFile('/proc/net/dev', 'utf8'));
  const r = await runInNamespaces({ net: s.namespaces.net }, ['cat', '/proc/net/dev'], signal);
  return r.code === 0 ? parseNetDev(r.stdout) : [];
}

/** The pod cgroup's usage (cgroupfs driver): all its containers and the pause process together. */
export function podCgroupStats(h: CgroupHierarchies, s: SandboxRecord): Promise<CgroupStats> {
  return cgroupStats(h, s.cgroupParent);
}
