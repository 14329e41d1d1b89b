import type { ContainerConfig, Mount } from '../cri/types.js';

export type ContainerState = 'created' | 'running' | 'exited';

/** Everything cri-ts keeps about a container; persisted as JSON under `<root>/containers/<id>`. */
export interface ContainerRecord {
  id: string;
  /** "k8s_<container>_<pod>_<namespace>_<uid>_<attempt>": unique, reused by kubelet retries. */
  name: string;
  sandboxId: string;
  config: ContainerConfig;
  /** The image as the user named it, and the id it resolved to (ContainerStatus image / image_ref / image_id). */
  imageName: string;
  imageId: string;
  /** The name the image is known by in this runtime (a repo tag or digest), for Container.image. */
  imageRef: string;
  runtimeHandler: string;
  state: ContainerState;
  /** Nanoseconds since the epoch as decimal strings; "0" until it happened. */
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  pid: number;
  monitorPid: number;
  /** Persistent: container.json, upper and work dirs (the writable layer). */
  dir: string;
  /** Volatile: the bundle (config.json, rootfs mount point, conmon's files). */
  bundle: string;
  rootfs: string;
  logPath: string;
  user: { uid: number; gid: number; supplementalGroups: number[] };
  mounts: Mount[];
  stopSignal: string;
  delivered: boolean;
}

export function containerName(
  config: ContainerConfig,
  sandbox: { name: string; namespace: string; uid: string; attempt: number },
): string {
  return [
    'k8s',
    config.metadata?.name ?? '',
    sandbox.name,
    sandbox.namespace,
    sandbox.uid,
    String(config.metadata?.attempt ?? 0),
  ].join('_');
}

export const nowNs = (): string => String(BigInt(Date.now()) * 1_000_000n);

/** ContainerStatus.reason for an exit, as cri-o reports it (kubelet shows OOMKilled only with that exact reason). */
export function exitReason(code: number, oomKilled: boolean): string {
  if (oomKilled) return 'OOMKilled';
  return code === 0 ? 'Completed' : 'Error';
}
