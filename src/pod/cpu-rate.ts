/**
 * usage_nano_cores for the stats RPCs: CPU time used per second of wall time, in billionths of a core, over the
 * interval since the previous sample of the same container or pod. The first sample has no previous one and
 * averages over the lifetime instead, so kubelet never sees a false idle.
 */
export class CpuRateTracker {
  private readonly last = new Map<string, { usageNs: bigint; atNs: bigint }>();

  constructor(private readonly forgetAfterNs = 10n * 60n * 1_000_000_000n) {}

  nanoCores(key: string, usageNs: bigint, nowNs: bigint, startedAtNs: bigint): bigint {
    const previous = this.last.get(key) ?? { usageNs: 0n, atNs: startedAtNs };
    this.last.set(key, { usageNs, atNs: nowNs });
    this.prune(nowNs);
    const elapsed = nowNs - previous.atNs;
    // A counter that went backwards belongs to a new cgroup (a restarted container with the same key).
    if (elapsed <= 0n || usageNs < previous.usageNs) return 0n;
    return ((usageNs - previous.usageNs) * 1_000_000_000n) / elapsed;
  }

  /** Entries of containers and pods nobody asked about for a while are gone: nothing else removes them. */
  private prune(nowNs: bigint): void {
    for (const [key, v] of this.last) if (nowNs - v.atNs > this.forgetAfterNs) this.last.delete(key);
  }
}
