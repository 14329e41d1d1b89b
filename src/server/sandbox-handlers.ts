import {
  PodSandboxState,
  type Init,
  type PodSandbox,
  type PodSandboxStatus,
  type RuntimeServiceMethods,
} from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';
import type { SandboxRecord } from '../pod/sandbox.js';
import type { PodSandboxes } from '../pod/sandbox-manager.js';
import type { ServiceHandlers } from './adapter.js';

type SandboxHandlers = Pick<
  ServiceHandlers<RuntimeServiceMethods>,
  | 'RunPodSandbox'
  | 'StopPodSandbox'
  | 'RemovePodSandbox'
  | 'PodSandboxStatus'
  | 'ListPodSandbox'
  | 'StreamPodSandboxes'
  | 'UpdateRuntimeConfig'
  | 'UpdatePodSandboxResources'
>;

/** Hooks into the container layer: a sandbox stops and removes its containers first. */
export interface ContainerHooks {
  stopContainers: (sandboxId: string) => Promise<void>;
  removeContainers: (sandboxId: string) => Promise<void>;
}

const state = (s: SandboxRecord) =>
  s.state === 'ready' ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;

function toPodSandbox(s: SandboxRecord): Init<PodSandbox> {
  return {
    id: s.id,
    metadata: s.config.metadata,
    state: state(s),
    created_at: BigInt(s.createdAt),
    labels: s.config.labels,
    annotations: s.config.annotations,
    runtime_handler: s.runtimeHandler,
  };
}

function toStatus(s: SandboxRecord): Init<PodSandboxStatus> {
  const ns = s.config.linux?.security_context?.namespace_options ?? null;
  return {
    ...toPodSandbox(s),
    network: { ip: s.network.ip, additional_ips: s.network.additionalIps.map((ip) => ({ ip })) },
    // Unset options mean POD for every namespace (the proto's zero values); report them explicitly.
    linux: { namespaces: { options: ns ?? { network: 0, pid: 0, ipc: 0, target_id: '' } } },
  };
}

function stateFilter(value: { state: number } | null): 'ready' | 'notready' | undefined {
  if (value === null) return undefined;
  return value.state === PodSandboxState.SANDBOX_READY ? 'ready' : 'notready';
}

export function sandboxHandlers(pods: PodSandboxes, hooks: ContainerHooks): SandboxHandlers {
  const list = (
    filter: { id: string; state: { state: number } | null; label_selector: Record<string, string> } | null,
  ) =>
    pods.list({
      idPrefix: filter?.id ?? '',
      state: stateFilter(filter?.state ?? null),
      labels: filter?.label_selector ?? {},
    });
  return {
    RunPodSandbox: async (request, ctx) => {
      if (request.config === null) throw invalidArgument('RunPodSandbox needs a config');
      return { pod_sandbox_id: await pods.run(request.config, request.runtime_handler, ctx.signal, ctx.log) };
    },

    StopPodSandbox: async (request, ctx) => {
      await pods.stop(request.pod_sandbox_id, ctx.log, hooks.stopContainers);
      return {};
    },

    RemovePodSandbox: async (request, ctx) => {
      await pods.remove(request.pod_sandbox_id, ctx.log, hooks.removeContainers);
      return {};
    },

    PodSandboxStatus: async (request) => {
      const s = pods.get(request.pod_sandbox_id);
      const info: Record<string, string> = {};
      if (request.verbose) {
        info['info'] = JSON.stringify({
          pid: s.pause.pid,
          image: s.pause.imageId,
          cgroupParent: s.cgroupParent,
          namespaces: s.namespaces,
          hostname: s.hostname,
          interfaces: s.network.interfaces,
          runtimeHandler: s.runtimeHandler,
          runtimeSpec: await pods.runtimeSpec(s),
        });
      }
      return {
        status: toStatus(s),
        info,
        containers_statuses: [],
        timestamp: BigInt(Date.now()) * 1_000_000n,
      };
    },

    ListPodSandbox: (request) => Promise.resolve({ items: list(request.filter).map(toPodSandbox) }),

    StreamPodSandboxes: async (request, _ctx, send) => {
      const items = list(request.filter);
      for (let i = 0; i < items.length; i += 100)
        await send({ pod_sandboxes: items.slice(i, i + 100).map(toPodSandbox) });
    },

    UpdateRuntimeConfig: (request, ctx) => {
      const cidr = request.runtime_config?.network_config?.pod_cidr ?? '';
      if (cidr !== '' && cidr !== pods.cidr) {
        pods.setPodCidr(cidr);
        ctx.log.info({ podCidr: cidr }, 'Pod CIDR updated');
      }
      return Promise.resolve({});
    },

    UpdatePodSandboxResources: async (request) => {
      await pods.updateResources(request.pod_sandbox_id, request.overhead, request.resources);
      return {};
    },
  };
}
