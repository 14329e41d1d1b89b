/**
 * The metrics ListPodSandboxMetrics serves, named and labelled as cAdvisor's /metrics/cadvisor so that kubelet
 * (which re-exports them, adding namespace, pod and container itself) and existing dashboards keep working.
 * Every sample carries the base labels first, then the metric's own ones, in this order.
 */

export type MetricKind = 'counter' | 'gauge';

export interface MetricDefinition {
  name: string;
  help: string;
  kind: MetricKind;
  /** Labels after the base ones. */
  extraLabels: readonly string[];
  /** Only a cgroup v2 host can report it per container (pressure stall information). */
  needsCgroupV2?: boolean;
}

/** The container (or "POD" for pod-level samples) the sample is about: kubelet adds the Kubernetes names. */
export const baseLabelKeys = ['id', 'name', 'image'] as const;

const counter = (name: string, help: string, extraLabels: readonly string[] = []): MetricDefinition => ({
  name,
  help,
  kind: 'counter',
  extraLabels,
});
const gauge = (name: string, help: string, extraLabels: readonly string[] = []): MetricDefinition => ({
  name,
  help,
  kind: 'gauge',
  extraLabels,
});
const pressure = (resource: string, kind: 'stalled' | 'waiting'): MetricDefinition => ({
  name: `container_pressure_${resource}_${kind}_seconds_total`,
  help:
    kind === 'stalled'
      ? `Whole seconds in which every task of the container was stalled on ${resource} (PSI "full").`
      : `Whole seconds in which at least one task of the container waited for ${resource} (PSI "some").`,
  kind: 'counter',
  extraLabels: [],
  needsCgroupV2: true,
});

const device = ['device'];
const iface = ['interface'];

export const metricCatalog: readonly MetricDefinition[] = [
  counter('container_cpu_usage_seconds_total', 'CPU time used by the container, in whole seconds.', ['cpu']),
  counter('container_cpu_user_seconds_total', 'CPU time the container spent in user mode, in whole seconds.'),
  counter('container_cpu_system_seconds_total', 'CPU time the container spent in the kernel, in whole seconds.'),
  counter('container_cpu_cfs_periods_total', 'CFS enforcement periods that have elapsed for the container.'),
  counter('container_cpu_cfs_throttled_periods_total', 'CFS periods in which the container was throttled.'),
  counter('container_cpu_cfs_throttled_seconds_total', 'Time the container spent throttled, in whole seconds.'),

  gauge('container_memory_usage_bytes', 'Memory charged to the container, page cache included, in bytes.'),
  gauge('container_memory_max_usage_bytes', 'Highest memory usage recorded for the container, in bytes.'),
  gauge(
    'container_memory_working_set_bytes',
    'Memory usage minus inactive file pages, in bytes: what eviction uses.',
  ),
  gauge('container_memory_cache', 'Page cache charged to the container, in bytes.'),
  gauge('container_memory_rss', 'Anonymous memory and swap cache of the container, in bytes.'),
  gauge('container_memory_mapped_file', 'Memory-mapped file pages of the container, in bytes.'),
  gauge('container_memory_swap', 'Swap used by the container, in bytes.'),
  gauge('container_memory_kernel_usage', 'Kernel memory charged to the container, in bytes.'),
  counter('container_memory_failcnt', 'Times the container reached its memory limit.'),
  counter('container_memory_failures_total', 'Page faults of the container, by fault type and scope.', [
    'failure_type',
    'scope',
  ]),
  counter('container_oom_events_total', 'Processes of the container killed by the out-of-memory killer.'),

  gauge('container_spec_cpu_period', 'CFS period of the container, in microseconds.'),
  gauge('container_spec_cpu_quota', 'CFS quota of the container per period, in microseconds (absent: no quota).'),
  gauge('container_spec_cpu_shares', 'CPU shares (relative weight) of the container.'),
  gauge('container_spec_memory_limit_bytes', 'Memory limit of the container in bytes; 0 means none.'),
  gauge(
    'container_spec_memory_swap_limit_bytes',
    'Memory plus swap limit of the container in bytes; 0 means none.',
  ),
  gauge(
    'container_spec_memory_reservation_limit_bytes',
    'Memory the container is protected down to under pressure (soft limit), in bytes; 0 means none.',
  ),

  gauge('container_processes', 'Processes running in the container.'),
  gauge('container_threads', 'Threads running in the container.'),
  gauge('container_threads_max', 'Tasks the container may have (pids limit); 0 means no limit.'),
  gauge('container_file_descriptors', 'File descriptors open in the container.'),
  gauge('container_sockets', 'Sockets open in the container.'),
  gauge('container_ulimits_soft', 'Soft resource limits of the container main process.', ['ulimit']),

  gauge('container_fs_usage_bytes', 'Bytes the container writable layer takes on its filesystem.', device),
  gauge(
    'container_fs_limit_bytes',
    'Size of the filesystem holding the container writable layer, in bytes.',
    device,
  ),
  gauge('container_fs_inodes_total', 'Inodes of the filesystem holding the container writable layer.', device),
  gauge('container_fs_inodes_free', 'Free inodes of the filesystem holding the container writable layer.', device),
  counter('container_fs_reads_bytes_total', 'Bytes the container read from the block device.', device),
  counter('container_fs_reads_total', 'Read requests the container completed on the block device.', device),
  counter('container_fs_writes_bytes_total', 'Bytes the container wrote to the block device.', device),
  counter('container_fs_writes_total', 'Write requests the container completed on the block device.', device),
  counter('container_blkio_device_usage_total', 'Block I/O of the container in bytes, by device and operation.', [
    'device',
    'major',
    'minor',
    'operation',
  ]),

  counter('container_network_receive_bytes_total', 'Bytes the pod received, per interface.', iface),
  counter('container_network_receive_packets_total', 'Packets the pod received, per interface.', iface),
  counter('container_network_receive_packets_dropped_total', 'Received packets the pod dropped.', iface),
  counter('container_network_receive_errors_total', 'Errors while the pod received, per interface.', iface),
  counter('container_network_transmit_bytes_total', 'Bytes the pod sent, per interface.', iface),
  counter('container_network_transmit_packets_total', 'Packets the pod sent, per interface.', iface),
  counter('container_network_transmit_packets_dropped_total', 'Packets the pod dropped while sending.', iface),
  counter('container_network_transmit_errors_total', 'Errors while the pod sent, per interface.', iface),

  gauge('container_start_time_seconds', 'When the container started, in seconds since the epoch.'),
  gauge('container_last_seen', 'When cri-ts last saw the container, in seconds since the epoch.'),

  pressure('cpu', 'waiting'),
  pressure('cpu', 'stalled'),
  pressure('memory', 'waiting'),
  pressure('memory', 'stalled'),
  pressure('io', 'waiting'),
  pressure('io', 'stalled'),
];

const byName = new Map(metricCatalog.map((m) => [m.name, m]));

export function metricDefinition(name: string): MetricDefinition | undefined {
  return byName.get(name);
}

/** What ListMetricDescriptors answers on this host: only metrics cri-ts can fill in here. */
export function servedMetrics(cgroupV2: boolean): MetricDefinition[] {
  return metricCatalog.filter((m) => cgroupV2 || m.needsCgroupV2 !== true);
}

export function labelKeysOf(m: MetricDefinition): string[] {
  return [...baseLabelKeys, ...m.extraLabels];
}
