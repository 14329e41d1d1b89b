import type { CgroupSnapshot } from './cgroup-snapshot.js';
import { metricDefinition, type MetricKind } from './cri-metric-catalog.js';
import type { FilesystemSnapshot } from './fs-snapshot.js';
import type { InterfaceStats } from './pod-stats.js';
import type { ProcessSnapshot } from './process-snapshot.js';

/** One value of a catalogued metric; labels are the base labels followed by the metric's own. */
export interface MetricSample {
  name: string;
  kind: MetricKind;
  labels: string[];
  value: bigint;
}

/** CRI metric values are unsigned integers: seconds are whole seconds, as the other runtimes report them. */
const seconds = (ns: bigint | undefined) => (ns === undefined ? undefined : ns / 1_000_000_000n);

/** Collects samples, refusing any the catalog does not describe exactly (a bug, caught by the unit tests). */
class Samples {
  readonly list: MetricSample[] = [];
  constructor(private readonly base: readonly string[]) {}

  add(name: string, value: bigint | number | undefined, extra: string[] = []): void {
    if (value === undefined) return;
    const def = metricDefinition(name);
    if (def === undefined) throw new Error(`metric ${name} is not in the catalog`);
    if (def.extraLabels.length !== extra.length)
      throw new Error(`metric ${name} takes labels ${def.extraLabels.join(',')}, got ${String(extra.length)}`);
    this.list.push({ name, kind: def.kind, labels: [...this.base, ...extra], value: BigInt(value) });
  }
}

export interface ContainerMetricInput {
  /** id, name, image: the catalog's base labels. */
  base: readonly [string, string, string];
  cgroup: CgroupSnapshot;
  processes: ProcessSnapshot;
  fs: FilesystemSnapshot | undefined;
  writableLayerBytes: bigint;
  /** "major:minor" → /dev name, for the block I/O samples. */
  blockDevices: ReadonlyMap<string, string>;
  startedAtNs: bigint;
  nowNs: bigint;
}

export function containerSamples(i: ContainerMetricInput): MetricSample[] {
  const s = new Samples(i.base);
  const { cpu, memory, spec, pids } = i.cgroup;
  s.add('container_cpu_usage_seconds_total', seconds(cpu.usageNs), ['total']);
  s.add('container_cpu_user_seconds_total', seconds(cpu.userNs));
  s.add('container_cpu_system_seconds_total', seconds(cpu.systemNs));
  s.add('container_cpu_cfs_periods_total', cpu.periods);
  s.add('container_cpu_cfs_throttled_periods_total', cpu.throttledPeriods);
  s.add('container_cpu_cfs_throttled_seconds_total', seconds(cpu.throttledNs));

  s.add('container_memory_usage_bytes', memory.usage);
  s.add('container_memory_max_usage_bytes', memory.maxUsage);
  s.add('container_memory_working_set_bytes', memory.workingSet);
  s.add('container_memory_cache', memory.cache);
  s.add('container_memory_rss', memory.rss);
  s.add('container_memory_mapped_file', memory.mappedFile);
  s.add('container_memory_swap', memory.swap);
  s.add('container_memory_kernel_usage', memory.kernel);
  s.add('container_memory_failcnt', memory.failcnt);
  for (const f of memory.faults) s.add('container_memory_failures_total', f.count, [f.type, f.scope]);
  s.add('container_oom_events_total', memory.oomKills);

  s.add('container_spec_cpu_period', spec.cpuPeriodUs);
  s.add('container_spec_cpu_quota', spec.cpuQuotaUs);
  s.add('container_spec_cpu_shares', spec.cpuShares);
  // cAdvisor reports "no limit" as 0, and dashboards divide by these only when non-zero.
  s.add('container_spec_memory_limit_bytes', spec.memoryLimit ?? 0n);
  s.add('container_spec_memory_swap_limit_bytes', spec.memorySwapLimit ?? 0n);
  s.add('container_spec_memory_reservation_limit_bytes', spec.memoryReservation ?? 0n);

  s.add('container_processes', i.processes.processes);
  s.add('container_threads', i.processes.threads);
  s.add('container_threads_max', pids.max ?? 0n);
  s.add('container_file_descriptors', i.processes.fileDescriptors);
  s.add('container_sockets', i.processes.sockets);
  s.add('container_ulimits_soft', i.processes.maxOpenFilesSoft, ['max_open_files']);

  if (i.fs !== undefined) {
    const dev = [i.fs.device];
    s.add('container_fs_usage_bytes', i.writableLayerBytes, dev);
    s.add('container_fs_limit_bytes', i.fs.capacityBytes, dev);
    s.add('container_fs_inodes_total', i.fs.inodesTotal, dev);
    s.add('container_fs_inodes_free', i.fs.inodesFree, dev);
  }
  for (const io of i.cgroup.io) {
    const numbers = `${String(io.major)}:${String(io.minor)}`;
    const device = i.blockDevices.get(numbers) ?? numbers;
    s.add('container_fs_reads_bytes_total', io.readBytes, [device]);
    s.add('container_fs_reads_total', io.reads, [device]);
    s.add('container_fs_writes_bytes_total', io.writeBytes, [device]);
    s.add('container_fs_writes_total', io.writes, [device]);
    const ids = [device, String(io.major), String(io.minor)];
    s.add('container_blkio_device_usage_total', io.readBytes, [...ids, 'Read']);
    s.add('container_blkio_device_usage_total', io.writeBytes, [...ids, 'Write']);
  }
  for (const p of i.cgroup.pressure) {
    s.add(`container_pressure_${p.resource}_waiting_seconds_total`, p.someUs / 1_000_000n);
    if (p.fullUs !== undefined)
      s.add(`container_pressure_${p.resource}_stalled_seconds_total`, p.fullUs / 1_000_000n);
  }

  s.add('container_start_time_seconds', seconds(i.startedAtNs));
  s.add('container_last_seen', seconds(i.nowNs));
  return s.list;
}

/** The pod's network counters: the pod shares one network namespace, so they belong to the pod, not a container. */
export function podNetworkSamples(
  base: readonly [string, string, string],
  ifaces: InterfaceStats[],
): MetricSample[] {
  const s = new Samples(base);
  for (const n of ifaces) {
    const l = [n.name];
    s.add('container_network_receive_bytes_total', n.rxBytes, l);
    s.add('container_network_receive_packets_total', n.rxPackets, l);
    s.add('container_network_receive_packets_dropped_total', n.rxDropped, l);
    s.add('container_network_receive_errors_total', n.rxErrors, l);
    s.add('container_network_transmit_bytes_total', n.txBytes, l);
    s.add('container_network_transmit_packets_total', n.txPackets, l);
    s.add('container_network_transmit_packets_dropped_total', n.txDropped, l);
    s.add('container_network_transmit_errors_total', n.txErrors, l);
  }
  return s.list;
}
