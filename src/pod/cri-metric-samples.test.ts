import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CgroupSnapshot } from './cgroup-snapshot.js';
import {
  baseLabelKeys,
  labelKeysOf,
  metricCatalog,
  metricDefinition,
  servedMetrics,
} from './cri-metric-catalog.js';
import { containerSamples, podNetworkSamples, type MetricSample } from './cri-metric-samples.js';

const fullSnapshot = (): CgroupSnapshot => ({
  cpu: {
    usageNs: 2_900_000_000n,
    userNs: 1_000_000_000n,
    systemNs: 999_999_999n,
    periods: 10n,
    throttledPeriods: 2n,
    throttledNs: 1_500_000_000n,
  },
  memory: {
    usage: 100n,
    maxUsage: 200n,
    workingSet: 90n,
    cache: 10n,
    rss: 80n,
    mappedFile: 5n,
    swap: 0n,
    kernel: 7n,
    failcnt: 1n,
    oomKills: 0n,
    faults: [
      { type: 'pgfault', scope: 'container', count: 4n },
      { type: 'pgmajfault', scope: 'hierarchy', count: 1n },
    ],
  },
  spec: {
    cpuPeriodUs: 100000n,
    cpuQuotaUs: 20000n,
    cpuShares: 1024n,
    memoryLimit: 64n * 1024n * 1024n,
    memorySwapLimit: undefined,
    memoryReservation: undefined,
  },
  pids: { current: 2n, max: undefined },
  io: [{ major: 254, minor: 0, readBytes: 4096n, writeBytes: 8192n, reads: 1n, writes: 2n }],
  pressure: [
    { resource: 'cpu', someUs: 2_500_000n, fullUs: 1_000_000n },
    { resource: 'memory', someUs: 0n, fullUs: 0n },
    { resource: 'io', someUs: 0n, fullUs: 0n },
  ],
});

const input = (cgroup: CgroupSnapshot) => ({
  base: ['cid', 'k8s_app_pod_ns_uid_0', 'example/app:1'] as const,
  cgroup,
  processes: { processes: 2, threads: 5, fileDescriptors: 9, sockets: 1, maxOpenFilesSoft: 1024n },
  fs: { device: '/dev/vda', capacityBytes: 1000n, inodesTotal: 50n, inodesFree: 20n },
  writableLayerBytes: 12288n,
  blockDevices: new Map([['254:0', '/dev/vda']]),
  startedAtNs: 1_700_000_000_900_000_000n,
  nowNs: 1_700_000_100_000_000_000n,
});

const ifaces = [
  {
    name: 'eth0',
    rxBytes: 1n,
    rxPackets: 2n,
    rxErrors: 3n,
    rxDropped: 4n,
    txBytes: 5n,
    txPackets: 6n,
    txErrors: 7n,
    txDropped: 8n,
  },
];

const find = (samples: MetricSample[], name: string, ...extra: string[]) =>
  samples.find((s) => s.name === name && extra.every((e, i) => s.labels[3 + i] === e));

describe('the CRI metric catalog', () => {
  it('has unique names, help text and the base labels on every metric', () => {
    assert.equal(new Set(metricCatalog.map((m) => m.name)).size, metricCatalog.length);
    for (const m of metricCatalog) {
      assert.ok(m.help.length > 10, `${m.name} has help`);
      assert.deepEqual(labelKeysOf(m).slice(0, 3), [...baseLabelKeys]);
    }
  });

  it('never uses the labels kubelet adds itself (namespace, pod, container)', () => {
    for (const m of metricCatalog)
      for (const key of labelKeysOf(m)) assert.ok(!['namespace', 'pod', 'container'].includes(key), m.name);
  });

  it('offers pressure metrics only where per-container PSI exists (cgroup v2)', () => {
    assert.ok(!servedMetrics(false).some((m) => m.name.startsWith('container_pressure_')));
    assert.equal(servedMetrics(true).filter((m) => m.name.startsWith('container_pressure_')).length, 6);
  });
});

describe('containerSamples', () => {
  it('fills every served metric of a v2 host from a complete snapshot, with matching label counts', () => {
    const samples = [
      ...containerSamples(input(fullSnapshot())),
      ...podNetworkSamples(['pod', 'POD', 'pause'], ifaces),
    ];
    const names = new Set(samples.map((s) => s.name));
    for (const m of servedMetrics(true)) assert.ok(names.has(m.name), `${m.name} is sampled`);
    for (const s of samples) {
      const def = metricDefinition(s.name);
      assert.ok(def !== undefined);
      assert.equal(s.labels.length, labelKeysOf(def).length, s.name);
      assert.equal(s.kind, def.kind);
    }
  });

  it('reports seconds as whole seconds, and no limit as 0', () => {
    const samples = containerSamples(input(fullSnapshot()));
    assert.equal(find(samples, 'container_cpu_usage_seconds_total', 'total')?.value, 2n);
    assert.equal(find(samples, 'container_cpu_system_seconds_total')?.value, 0n);
    assert.equal(find(samples, 'container_cpu_cfs_throttled_seconds_total')?.value, 1n);
    assert.equal(find(samples, 'container_start_time_seconds')?.value, 1_700_000_000n);
    assert.equal(find(samples, 'container_spec_memory_limit_bytes')?.value, 64n * 1024n * 1024n);
    assert.equal(find(samples, 'container_spec_memory_swap_limit_bytes')?.value, 0n);
    assert.equal(find(samples, 'container_threads_max')?.value, 0n);
    assert.equal(find(samples, 'container_pressure_cpu_waiting_seconds_total')?.value, 2n);
    assert.equal(find(samples, 'container_pressure_cpu_stalled_seconds_total')?.value, 1n);
  });

  it('labels each metric as cAdvisor does', () => {
    const samples = containerSamples(input(fullSnapshot()));
    assert.deepEqual(find(samples, 'container_memory_rss')?.labels, [
      'cid',
      'k8s_app_pod_ns_uid_0',
      'example/app:1',
    ]);
    assert.equal(find(samples, 'container_memory_failures_total', 'pgfault', 'container')?.value, 4n);
    assert.equal(find(samples, 'container_fs_usage_bytes', '/dev/vda')?.value, 12288n);
    assert.equal(find(samples, 'container_fs_writes_bytes_total', '/dev/vda')?.value, 8192n);
    assert.equal(
      find(samples, 'container_blkio_device_usage_total', '/dev/vda', '254', '0', 'Write')?.value,
      8192n,
    );
    assert.equal(find(samples, 'container_ulimits_soft', 'max_open_files')?.value, 1024n);
  });

  it('leaves out what the kernel did not report instead of inventing zeros', () => {
    const bare: CgroupSnapshot = {
      cpu: {
        usageNs: undefined,
        userNs: undefined,
        systemNs: undefined,
        periods: undefined,
        throttledPeriods: undefined,
        throttledNs: undefined,
      },
      memory: {
        usage: undefined,
        maxUsage: undefined,
        workingSet: undefined,
        cache: undefined,
        rss: undefined,
        mappedFile: undefined,
        swap: undefined,
        kernel: undefined,
        failcnt: undefined,
        oomKills: undefined,
        faults: [],
      },
      spec: {
        cpuPeriodUs: undefined,
        cpuQuotaUs: undefined,
        cpuShares: undefined,
        memoryLimit: undefined,
        memorySwapLimit: undefined,
        memoryReservation: undefined,
      },
      pids: { current: undefined, max: undefined },
      io: [],
      pressure: [],
    };
    const names = containerSamples({ ...input(bare), fs: undefined }).map((s) => s.name);
    assert.ok(!names.includes('container_cpu_usage_seconds_total'));
    assert.ok(!names.includes('container_memory_swap'));
    assert.ok(!names.includes('container_fs_usage_bytes'));
    assert.ok(names.includes('container_last_seen'));
  });
});

describe('podNetworkSamples', () => {
  it('gives each interface its eight counters under the pod base labels', () => {
    const samples = podNetworkSamples(['pod', 'POD', 'pause'], ifaces);
    assert.equal(samples.length, 8);
    assert.equal(find(samples, 'container_network_transmit_packets_dropped_total', 'eth0')?.value, 8n);
    assert.deepEqual(find(samples, 'container_network_receive_bytes_total', 'eth0')?.labels, [
      'pod',
      'POD',
      'pause',
      'eth0',
    ]);
  });
});
