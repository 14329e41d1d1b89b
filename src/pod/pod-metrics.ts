import { readFile } from 'node:fs/promises';
import type { DiskUsage } from '../image/disk-usage.js';
import { cgroupFileReader, readCgroupSnapshot } from './cgroup-snapshot.js';
import type { ContainerRecord } from './container.js';
import { containerSamples, podNetworkSamples, type MetricSample } from './cri-metric-samples.js';
import { blockDeviceName, filesystemOf } from './fs-snapshot.js';
import type { CgroupHierarchies } from './pod-cgroup.js';
import { podNetworkStats } from './pod-stats.js';
import { parsePids, processSnapshot } from './process-snapshot.js';
import type { SandboxRecord } from './sandbox.js';

/** A running container and where its usage is accounted. */
export interface MetricTarget {
  record: ContainerRecord;
  cgroupPath: string;
  upperDir: string;
  writableLayer: DiskUsage;
}

/** ListPodSandboxMetrics for one pod: its network samples, then each running container's. */
export interface PodMetrics {
  podId: string;
  samples: MetricSample[];
  containers: { id: string; samples: MetricSample[] }[];
}

async function containerMetrics(
  h: CgroupHierarchies,
  t: MetricTarget,
  blockDevices: Map<string, string>,
  mountinfo: string,
  nowNs: bigint,
  signal: AbortSignal,
): Promise<MetricSample[]> {
  const read = cgroupFileReader(h, t.cgroupPath);
  const cgroup = await readCgroupSnapshot(h.unified, read);
  const processes = await processSnapshot(parsePids(await read('cgroup.procs')), t.record.pid, signal);
  const fs = await filesystemOf(t.upperDir, mountinfo).catch(() => undefined);
  for (const io of cgroup.io) {
    const numbers = `${String(io.major)}:${String(io.minor)}`;
    if (!blockDevices.has(numbers)) blockDevices.set(numbers, await blockDeviceName(io.major, io.minor));
  }
  const c = t.record;
  return containerSamples({
    base: [c.id, c.name, c.imageRef],
    cgroup,
    processes,
    fs,
    writableLayerBytes: t.writableLayer.bytes,
    blockDevices,
    startedAtNs: BigInt(c.startedAt),
    nowNs,
  });
}

export async function collectPodMetrics(
  h: CgroupHierarchies,
  pod: SandboxRecord,
  running: MetricTarget[],
  signal: AbortSignal,
): Promise<PodMetrics> {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const ifaces = pod.state === 'ready' ? await podNetworkStats(pod, signal) : [];
  const blockDevices = new Map<string, string>();
  // One read of the mount table serves every container of the pod.
  const mountinfo = running.length > 0 ? await readFile('/proc/self/mountinfo', 'utf8') : '';
  const containers = [];
  // One container at a time: a scrape must not turn into a burst of /proc walks on a busy node.
  for (const t of running) {
    containers.push({
      id: t.record.id,
      samples: await containerMetrics(h, t, blockDevices, mountinfo, nowNs, signal),
    });
  }
  return { podId: pod.id, samples: podNetworkSamples([pod.id, 'POD', pod.pause.imageId], ifaces), containers };
}
