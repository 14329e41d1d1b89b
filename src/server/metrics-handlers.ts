import {
  MetricType,
  type Init,
  type Metric,
  type PodSandboxMetrics,
  type RuntimeServiceMethods,
} from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import type { Containers } from '../pod/container-manager.js';
import { labelKeysOf, servedMetrics } from '../pod/cri-metric-catalog.js';
import type { MetricSample } from '../pod/cri-metric-samples.js';
import type { CgroupHierarchies } from '../pod/pod-cgroup.js';
import { collectPodMetrics } from '../pod/pod-metrics.js';
import type { SandboxRecord } from '../pod/sandbox.js';
import type { PodSandboxes } from '../pod/sandbox-manager.js';
import type { ServiceHandlers } from './adapter.js';

type MetricsHandlers = Pick<
  ServiceHandlers<RuntimeServiceMethods>,
  'ListMetricDescriptors' | 'ListPodSandboxMetrics' | 'StreamPodSandboxMetrics'
>;

function toMetric(s: MetricSample, timestamp: bigint): Init<Metric> {
  return {
    name: s.name,
    timestamp,
    metric_type: s.kind === 'counter' ? MetricType.COUNTER : MetricType.GAUGE,
    label_values: s.labels,
    value: { value: s.value },
  };
}

/** The CRI metrics API (KEP-2371): cAdvisor-compatible container metrics served by the runtime itself. */
export function metricsHandlers(
  containers: Containers,
  pods: PodSandboxes,
  cgroups: CgroupHierarchies,
): MetricsHandlers {
  const podMetrics = async (s: SandboxRecord, signal: AbortSignal): Promise<Init<PodSandboxMetrics>> => {
    const running = [];
    // A prefix filter: a pod id may begin another pod's id.
    for (const record of containers.list({ idPrefix: '', podIdPrefix: s.id, state: 'running', labels: {} })) {
      if (record.sandboxId !== s.id) continue;
      const writableLayer = await containers.writableLayerUsage(record, signal);
      running.push({ record, ...containers.placement(record), writableLayer });
    }
    const m = await collectPodMetrics(cgroups, s, running, signal);
    const ts = BigInt(Date.now()) * 1_000_000n;
    return {
      pod_sandbox_id: m.podId,
      metrics: m.samples.map((x) => toMetric(x, ts)),
      container_metrics: m.containers.map((c) => ({
        container_id: c.id,
        metrics: c.samples.map((x) => toMetric(x, ts)),
      })),
    };
  };
  const readyPods = () => pods.list({ idPrefix: '', state: 'ready', labels: {} });
  /** A pod or container removed while the list is built is simply no longer in it. */
  const unlessGone = async (s: SandboxRecord, signal: AbortSignal) => {
    try {
      return await podMetrics(s, signal);
    } catch (err) {
      if (err instanceof CriError && err.kind === 'NotFound') return undefined;
      throw err;
    }
  };
  return {
    ListMetricDescriptors: () =>
      Promise.resolve({
        descriptors: servedMetrics(cgroups.unified).map((m) => ({
          name: m.name,
          help: m.help,
          label_keys: labelKeysOf(m),
        })),
      }),
    ListPodSandboxMetrics: async (_request, ctx) => {
      const out = [];
      for (const s of readyPods()) {
        const m = await unlessGone(s, ctx.signal);
        if (m !== undefined) out.push(m);
      }
      return { pod_metrics: out };
    },
    StreamPodSandboxMetrics: async (_request, ctx, send) => {
      for (const s of readyPods()) {
        const m = await unlessGone(s, ctx.signal);
        if (m !== undefined) await send({ pod_sandbox_metrics: [m] });
      }
    },
  };
}
