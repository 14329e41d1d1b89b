import type { LinuxContainerResources } from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';
import type { SpecResources } from '../oci/spec.js';

const safe = (v: bigint, what: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
    throw invalidArgument(`${what} ${String(v)} is out of range`);
  return Number(v);
};

/**
 * CRI resources in the spec builder's terms. Zero means "not specified" throughout the CRI (api.proto), so only
 * non-zero values become limits; a negative CFS quota is the kernel's "unlimited" and passes as is. `pidsLimit` is
 * the runtime's configured default (cri-o's pids_limit): a positive value caps the container, anything else not.
 */
export function containerResources(
  r: LinuxContainerResources | null,
  pidsLimit?: number,
): SpecResources | undefined {
  const out: SpecResources = {};
  if (pidsLimit !== undefined && Number.isInteger(pidsLimit) && pidsLimit > 0) out.pidsLimit = pidsLimit;
  if (r !== null) {
    if (r.cpu_shares < 0n) throw invalidArgument(`cpu_shares ${String(r.cpu_shares)} is negative`);
    if (r.cpu_period < 0n) throw invalidArgument(`cpu_period ${String(r.cpu_period)} is negative`);
    if (r.memory_limit_in_bytes < 0n)
      throw invalidArgument(`memory_limit_in_bytes ${String(r.memory_limit_in_bytes)} is negative`);
    if (r.cpu_shares > 0n) out.cpuShares = safe(r.cpu_shares, 'cpu_shares');
    if (r.cpu_quota !== 0n) out.cpuQuota = safe(r.cpu_quota, 'cpu_quota');
    if (r.cpu_period > 0n) out.cpuPeriod = safe(r.cpu_period, 'cpu_period');
    if (r.cpuset_cpus !== '') out.cpusetCpus = r.cpuset_cpus;
    if (r.cpuset_mems !== '') out.cpusetMems = r.cpuset_mems;
    if (r.memory_limit_in_bytes > 0n) out.memoryLimit = safe(r.memory_limit_in_bytes, 'memory_limit_in_bytes');
    // Like the runtime spec's memory.swap, the CRI value is memory plus swap (kubelet computes it that way).
    if (r.memory_swap_limit_in_bytes !== 0n)
      out.memorySwap = safe(r.memory_swap_limit_in_bytes, 'memory_swap_limit_in_bytes');
    if (r.hugepage_limits.length > 0) {
      out.hugepageLimits = r.hugepage_limits.map((h) => {
        // api.proto: "<size><unit-prefix>B (2MB, 1GB)": the suffix of the hugetlb.<size>.limit_in_bytes file.
        if (!/^\d+[KMGTP]?B$/.test(h.page_size))
          throw invalidArgument(`hugepage page_size ${JSON.stringify(h.page_size)} is not like 2MB or 1GB`);
        return { pageSize: h.page_size, limit: safe(h.limit, `hugepage limit for ${h.page_size}`) };
      });
    }
    if (Object.keys(r.unified).length > 0) out.unified = { ...r.unified };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** kubelet always sends oom_score_adj for containers; an absent value is 0, as containerd treats it. */
export function containerOomScoreAdj(r: LinuxContainerResources | null): number {
  const v = r?.oom_score_adj ?? 0n;
  if (v < -1000n || v > 1000n) throw invalidArgument(`oom_score_adj ${String(v)} is outside -1000..1000`);
  return Number(v);
}
