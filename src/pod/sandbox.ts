import type { PodSandboxConfig } from '../cri/types.js';
import type { PinnedNamespaces } from './namespaces.js';

export type SandboxState = 'ready' | 'notready';

/** What the pod's network setup produced, kept for status and for teardown after a restart. */
export interface SandboxNetwork {
  ip: string;
  additionalIps: string[];
  interfaces: { name: string; mac?: string; sandbox?: string }[];
}

/** Everything cri-ts knows about a pod sandbox; persisted as JSON (bigints kept) under `<root>/sandboxes/<id>`. */
export interface SandboxRecord {
  id: string;
  /** "k8s_POD_<name>_<namespace>_<uid>_<attempt>": what a kubelet retry reuses. */
  name: string;
  config: PodSandboxConfig;
  runtimeHandler: string;
  /** Nanoseconds since the epoch, as a decimal string (JSON has no int64). */
  createdAt: string;
  state: SandboxState;
  hostNetwork: boolean;
  hostIpc: boolean;
  hostPid: boolean;
  namespaces: PinnedNamespaces;
  network: SandboxNetwork;
  /** The cgroup the pod's containers nest under (cgroupfs path or systemd slice). */
  cgroupParent: string;
  /** True when cri-ts created the pod cgroup itself (no cgroup_parent given) and so removes it. */
  ownsCgroup: boolean;
  /** Persistent files: sandbox.json. */
  dir: string;
  /** Volatile files: resolv.conf, hostname, shm, pause bundle. */
  runDir: string;
  shmPath: string;
  hostname: string;
  pause: {
    containerId: string;
    imageId: string;
    pid: number;
    monitorPid: number;
    bundle: string;
    rootfs: string;
  };
  /** Whether a client received the id; a creation that finished after its client left is parked for the retry. */
  delivered: boolean;
}

/** The transitions a sandbox allows; checked before any side effect. */
export const canStop = (s: SandboxRecord): boolean => s.state === 'ready';

/** The name kubelet's metadata maps to; two sandboxes never share it. */
export function sandboxName(config: PodSandboxConfig): string {
  const m = config.metadata;
  return ['k8s', 'POD', m?.name ?? '', m?.namespace ?? '', m?.uid ?? '', String(m?.attempt ?? 0)].join('_');
}
