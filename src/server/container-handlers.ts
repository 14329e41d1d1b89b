import { signalEnum } from '../pod/container-spec-process.js';
import {
  ContainerState,
  type Container,
  type ContainerStats,
  type PodSandboxStats,
  type ContainerStatus,
  type Init,
  type RuntimeServiceMethods,
} from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';
import type { ContainerRecord } from '../pod/container.js';
import type { ContainerFilter, Containers } from '../pod/container-manager.js';
import type { CgroupHierarchies } from '../pod/pod-cgroup.js';
import { CpuRateTracker } from '../pod/cpu-rate.js';
import { podCgroupStats, podNetworkStats } from '../pod/pod-stats.js';
import type { SandboxRecord } from '../pod/sandbox.js';
import type { PodSandboxes } from '../pod/sandbox-manager.js';
import type { ServiceHandlers } from './adapter.js';

type ContainerHandlers = Pick<
  ServiceHandlers<RuntimeServiceMethods>,
  | 'CreateContainer'
  | 'StartContainer'
  | 'StopContainer'
  | 'RemoveContainer'
  | 'ContainerStatus'
  | 'ListContainers'
  | 'StreamContainers'
  | 'ExecSync'
  | 'ReopenContainerLog'
  | 'UpdateContainerResources'
  | 'ContainerStats'
  | 'ListContainerStats'
  | 'StreamContainerStats'
  | 'PodSandboxStats'
  | 'ListPodSandboxStats'
  | 'StreamPodSandboxStats'
>;

const stateCode = {
  created: ContainerState.CONTAINER_CREATED,
  running: ContainerState.CONTAINER_RUNNING,
  exited: ContainerState.CONTAINER_EXITED,
} as const;
const stateName = ['created', 'running', 'exited'] as const;

function toContainer(c: ContainerRecord): Init<Container> {
  return {
    id: c.id,
    pod_sandbox_id: c.sandboxId,
    metadata: c.config.metadata,
    image: { image: c.imageRef, annotations: c.config.image?.annotations ?? {} },
    // api.proto: image_ref and image_id must match what PullImage and ListImages report (the image id).
    image_ref: c.imageId,
    image_id: c.imageId,
    state: stateCode[c.state],
    created_at: BigInt(c.createdAt),
    labels: c.config.labels,
    annotations: c.config.annotations,
  };
}

function toStatus(c: ContainerRecord): Init<ContainerStatus> {
  return {
    ...toContainer(c),
    started_at: BigInt(c.startedAt),
    finished_at: BigInt(c.finishedAt),
    exit_code: c.exitCode,
    reason: c.reason,
    message: c.message,
    mounts: c.mounts,
    log_path: c.logPath,
    resources: { linux: c.config.linux?.resources ?? null },
    user: {
      linux: {
        uid: BigInt(c.user.uid),
        gid: BigInt(c.user.gid),
        supplemental_groups: c.user.supplementalGroups.map(BigInt),
      },
    },
    stop_signal: signalEnum(c.stopSignal),
  };
}

function filterOf(
  f: {
    id: string;
    pod_sandbox_id: string;
    state: { state: number } | null;
    label_selector: Record<string, string>;
  } | null,
): ContainerFilter {
  const state = f?.state === null || f?.state === undefined ? undefined : stateName[f.state.state];
  return { idPrefix: f?.id ?? '', podIdPrefix: f?.pod_sandbox_id ?? '', state, labels: f?.label_selector ?? {} };
}

async function toStats(
  containers: Containers,
  c: ContainerRecord,
  signal: AbortSignal,
): Promise<Init<ContainerStats>> {
  const s = await containers.stats(c, signal);
  const ts = s.atNs;
  return {
    attributes: {
      id: c.id,
      metadata: c.config.metadata,
      labels: c.config.labels,
      annotations: c.config.annotations,
    },
    cpu: {
      timestamp: ts,
      usage_core_nano_seconds: { value: s.cgroup.cpuUsageNs },
      usage_nano_cores: { value: s.nanoCores },
    },
    memory: {
      timestamp: ts,
      working_set_bytes: { value: s.cgroup.workingSet },
      usage_bytes: { value: s.cgroup.memoryUsage },
      rss_bytes: { value: s.cgroup.rss },
      page_faults: { value: s.cgroup.pageFaults },
      major_page_faults: { value: s.cgroup.majorPageFaults },
    },
    writable_layer: {
      timestamp: ts,
      fs_id: { mountpoint: s.upperDir },
      used_bytes: { value: s.writable.bytes },
      inodes_used: { value: s.writable.inodes },
    },
  };
}

type StatsFilter = { id: string; pod_sandbox_id: string; label_selector: Record<string, string> } | null;

/** Stats are for running containers only (api.proto ListContainerStats). */
function statsTargets(containers: Containers, f: StatsFilter): ContainerRecord[] {
  return containers.list({
    idPrefix: f?.id ?? '',
    podIdPrefix: f?.pod_sandbox_id ?? '',
    state: 'running',
    labels: f?.label_selector ?? {},
  });
}

async function toPodStats(
  containers: Containers,
  cgroups: CgroupHierarchies,
  podRates: CpuRateTracker,
  s: SandboxRecord,
  signal: AbortSignal,
): Promise<Init<PodSandboxStats>> {
  const usage = await podCgroupStats(cgroups, s);
  const ts = BigInt(Date.now()) * 1_000_000n;
  const nanoCores = podRates.nanoCores(s.id, usage.cpuUsageNs, ts, BigInt(s.createdAt));
  const ifaces = s.state === 'ready' ? await podNetworkStats(s, signal) : [];
  const toIface = (i: (typeof ifaces)[number]) => ({
    name: i.name,
    rx_bytes: { value: i.rxBytes },
    rx_errors: { value: i.rxErrors },
    tx_bytes: { value: i.txBytes },
    tx_errors: { value: i.txErrors },
  });
  const defaultIface = ifaces.find((i) => i.name === 'eth0') ?? ifaces[0];
  const running = containers.list({ idPrefix: '', podIdPrefix: s.id, state: 'running', labels: {} });
  return {
    attributes: {
      id: s.id,
      metadata: s.config.metadata,
      labels: s.config.labels,
      annotations: s.config.annotations,
    },
    linux: {
      cpu: {
        timestamp: ts,
        usage_core_nano_seconds: { value: usage.cpuUsageNs },
        usage_nano_cores: { value: nanoCores },
      },
      memory: {
        timestamp: ts,
        working_set_bytes: { value: usage.workingSet },
        usage_bytes: { value: usage.memoryUsage },
        rss_bytes: { value: usage.rss },
        page_faults: { value: usage.pageFaults },
        major_page_faults: { value: usage.majorPageFaults },
      },
      network: {
        timestamp: ts,
        default_interface: defaultIface === undefined ? null : toIface(defaultIface),
        interfaces: ifaces.map(toIface),
      },
      process: { timestamp: ts, process_count: { value: usage.processes } },
      containers: await Promise.all(running.map((c) => toStats(containers, c, signal))),
    },
  };
}

export function containerHandlers(
  containers: Containers,
  pods: PodSandboxes,
  cgroups: CgroupHierarchies,
): ContainerHandlers {
  const podRates = new CpuRateTracker();
  const podTargets = (f: { id: string; label_selector: Record<string, string> } | null) =>
    pods.list({ idPrefix: f?.id ?? '', state: 'ready', labels: f?.label_selector ?? {} });
  return {
    PodSandboxStats: async (request, ctx) => ({
      stats: await toPodStats(containers, cgroups, podRates, pods.get(request.pod_sandbox_id), ctx.signal),
    }),
    ListPodSandboxStats: async (request, ctx) => ({
      stats: await Promise.all(
        podTargets(request.filter).map((s) => toPodStats(containers, cgroups, podRates, s, ctx.signal)),
      ),
    }),
    StreamPodSandboxStats: async (request, ctx, send) => {
      for (const s of podTargets(request.filter)) {
        await send({ pod_sandbox_stats: [await toPodStats(containers, cgroups, podRates, s, ctx.signal)] });
      }
    },
    UpdateContainerResources: async (request) => {
      await containers.updateResources(request.container_id, request.linux);
      return {};
    },
    ReopenContainerLog: async (request) => {
      await containers.reopenLog(request.container_id);
      return {};
    },
    ContainerStats: async (request, ctx) => ({
      stats: await toStats(containers, containers.get(request.container_id), ctx.signal),
    }),
    ListContainerStats: async (request, ctx) => ({
      stats: await Promise.all(
        statsTargets(containers, request.filter).map((c) => toStats(containers, c, ctx.signal)),
      ),
    }),
    StreamContainerStats: async (request, ctx, send) => {
      const list = statsTargets(containers, request.filter);
      for (let i = 0; i < list.length; i += 50) {
        await send({
          container_stats: await Promise.all(list.slice(i, i + 50).map((c) => toStats(containers, c, ctx.signal))),
        });
      }
    },
    CreateContainer: async (request, ctx) => {
      if (request.config === null) throw invalidArgument('CreateContainer needs a config');
      return {
        container_id: await containers.create(
          request.pod_sandbox_id,
          request.config,
          request.sandbox_config,
          ctx.signal,
          ctx.log,
        ),
      };
    },
    StartContainer: async (request, ctx) => {
      await containers.start(request.container_id, ctx.log);
      return {};
    },
    StopContainer: async (request, ctx) => {
      await containers.stop(request.container_id, Number(request.timeout), ctx.log);
      return {};
    },
    RemoveContainer: async (request, ctx) => {
      await containers.remove(request.container_id, ctx.log);
      return {};
    },
    ContainerStatus: async (request) => {
      const c = containers.get(request.container_id);
      const info: Record<string, string> = {};
      if (request.verbose) {
        info['info'] = JSON.stringify({
          sandboxID: c.sandboxId,
          pid: c.pid,
          monitorPid: c.monitorPid,
          bundle: c.bundle,
          runtimeHandler: c.runtimeHandler,
          runtimeSpec: await containers.runtimeSpec(c),
        });
      }
      return { status: toStatus(c), info };
    },
    ListContainers: (request) =>
      Promise.resolve({ containers: containers.list(filterOf(request.filter)).map(toContainer) }),
    StreamContainers: async (request, _ctx, send) => {
      const list = containers.list(filterOf(request.filter));
      for (let i = 0; i < list.length; i += 100)
        await send({ containers: list.slice(i, i + 100).map(toContainer) });
    },
    ExecSync: async (request, ctx) => {
      const r = await containers.execSync(request.container_id, request.cmd, Number(request.timeout), ctx.signal);
      return { stdout: r.stdout, stderr: r.stderr, exit_code: r.exitCode };
    },
  };
}
