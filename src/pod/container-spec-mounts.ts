import { realpath } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { MountPropagation, type Mount } from '../cri/types.js';
import { invalidArgument, unimplemented } from '../errors/errors.js';
import type { OciMount } from '../oci/spec-types.js';
import { sourcePropagation } from './container-spec-propagation.js';
import type { SandboxRecord } from './sandbox.js';

type SandboxFiles = Pick<SandboxRecord, 'runDir' | 'shmPath' | 'hostIpc' | 'hostNetwork'>;

export interface ContainerMounts {
  /** Bind mounts for the spec: the pod's files and the request's volumes. */
  mounts: OciMount[];
  /** The request's mounts as applied, for ContainerStatus.mounts. */
  applied: Mount[];
  /** rshared when a volume is bidirectional, rslave when one only receives from the host; else the runtime's. */
  rootfsPropagation?: string;
}

/** Extra bind options a request may carry (CRI mount_options); anything that could widen access is refused. */
const allowedMountOptions = new Set([
  'nosuid',
  'nodev',
  'noexec',
  'noatime',
  'nodiratime',
  'relatime',
  'strictatime',
  'lazytime',
]);

const clean = (p: string): string => {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
};

const bind = (source: string, destination: string, readonly: boolean): OciMount => ({
  destination,
  type: 'bind',
  source,
  options: ['rbind', 'nosuid', 'nodev', 'noexec', readonly ? 'ro' : 'rw'],
});

/**
 * The files every container of the pod shares with the pause container: resolv.conf and hostname (sandboxPaths
 * puts them in the sandbox's run dir), /dev/shm (the pod's tmpfs, or the host's with host IPC), and the node's
 * /etc/hosts for host-network pods (kubelet mounts its own /etc/hosts only for pod-network pods, as cri-o knows).
 * A request that mounts one of these paths itself wins.
 */
export function sandboxMounts(sandbox: SandboxFiles, requested: ReadonlySet<string>): OciMount[] {
  const out: OciMount[] = [];
  const add = (m: OciMount): void => {
    if (!requested.has(m.destination)) out.push(m);
  };
  add(bind(join(sandbox.runDir, 'resolv.conf'), '/etc/resolv.conf', true));
  add(bind(join(sandbox.runDir, 'hostname'), '/etc/hostname', true));
  if (sandbox.hostIpc) add(bind('/dev/shm', '/dev/shm', false));
  else if (sandbox.shmPath !== '') add(bind(sandbox.shmPath, '/dev/shm', false));
  if (sandbox.hostNetwork) add(bind('/etc/hosts', '/etc/hosts', true));
  return out;
}

const propagationOption: Record<MountPropagation, string> = {
  [MountPropagation.PROPAGATION_PRIVATE]: 'rprivate',
  [MountPropagation.PROPAGATION_HOST_TO_CONTAINER]: 'rslave',
  [MountPropagation.PROPAGATION_BIDIRECTIONAL]: 'rshared',
};

/** The host path with symlinks followed (api.proto: runtimes should follow it); missing is the caller's error. */
async function hostSource(m: Mount): Promise<string> {
  if (m.host_path === '') throw invalidArgument(`mount ${m.container_path} has no host_path`);
  if (!posix.isAbsolute(m.host_path)) throw invalidArgument(`mount host_path ${m.host_path} is not absolute`);
  try {
    return await realpath(m.host_path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw invalidArgument(`mount host_path ${m.host_path} does not exist`);
    throw err;
  }
}

/** One volume of the request as a bind mount, checked the way the CRI and critest expect. */
async function volume(m: Mount, features: MountFeatures, mountinfoPath: string): Promise<OciMount> {
  // Image volumes (KEP-4639) need the image store to mount an image read-only; not built yet.
  if (m.image !== null) throw unimplemented('image volume mounts are not supported');
  if (!posix.isAbsolute(m.container_path))
    throw invalidArgument(`mount container_path ${JSON.stringify(m.container_path)} is not absolute`);
  const option = propagationOption[m.propagation] as string | undefined;
  if (option === undefined)
    throw invalidArgument(`mount ${m.container_path}: propagation ${String(m.propagation)} is unknown`);
  // api.proto: "when set to true, readonly must be explicitly set to true, and propagation must be PRIVATE".
  if (m.recursive_read_only && !m.readonly)
    throw invalidArgument(`mount ${m.container_path}: recursive_read_only needs readonly`);
  if (m.recursive_read_only && m.propagation !== MountPropagation.PROPAGATION_PRIVATE)
    throw invalidArgument(`mount ${m.container_path}: recursive_read_only needs private propagation`);
  // Never degrade to a plain read-only mount: submounts would stay writable behind the user's back.
  if (m.recursive_read_only && !features.recursiveReadOnly)
    throw invalidArgument(
      `mount ${m.container_path}: this runtime handler does not support recursive read-only mounts ` +
        '(Status lists what each handler supports)',
    );
  if (m.uidMappings.length > 0 || m.gidMappings.length > 0)
    throw invalidArgument(
      `mount ${m.container_path}: id-mapped mounts need user namespaces, which are not supported`,
    );
  for (const o of m.mount_options) {
    if (!allowedMountOptions.has(o))
      throw invalidArgument(`mount ${m.container_path}: mount option ${JSON.stringify(o)} is not allowed`);
  }
  const source = await hostSource(m);
  // The container's copy of the mount only receives (or sends) events if the host side propagates at all.
  if (m.propagation === MountPropagation.PROPAGATION_BIDIRECTIONAL) {
    if ((await sourcePropagation(source, mountinfoPath)) !== 'shared')
      throw invalidArgument(
        `mount ${m.container_path}: bidirectional propagation needs ${source} on a shared mount`,
      );
  } else if (m.propagation === MountPropagation.PROPAGATION_HOST_TO_CONTAINER) {
    if ((await sourcePropagation(source, mountinfoPath)) === 'private')
      throw invalidArgument(
        `mount ${m.container_path}: host-to-container propagation needs ${source} on a shared or slave mount`,
      );
  }
  // selinux_relabel is ignored: SELinux is not enabled on the nodes cri-ts runs on.
  const options = ['rbind', option, m.readonly ? 'ro' : 'rw'];
  if (m.recursive_read_only) options.push('rro');
  options.push(...m.mount_options);
  return { destination: clean(m.container_path), type: 'bind', source, options };
}

/** What the container's runtime handler can do with mounts. */
export interface MountFeatures {
  recursiveReadOnly: boolean;
}

/** The spec's bind mounts and the applied CRI mounts of one container. */
export async function containerMounts(
  requested: readonly Mount[],
  sandbox: SandboxFiles,
  features: MountFeatures,
  mountinfoPath = '/proc/self/mountinfo',
): Promise<ContainerMounts> {
  const destinations = new Set<string>();
  const volumes: OciMount[] = [];
  for (const m of requested) {
    const v = await volume(m, features, mountinfoPath);
    if (destinations.has(v.destination))
      throw invalidArgument(`mount destination ${v.destination} is listed twice`);
    destinations.add(v.destination);
    volumes.push(v);
  }
  const result: ContainerMounts = {
    mounts: [...sandboxMounts(sandbox, destinations), ...volumes],
    applied: requested.map((m) => ({ ...m, mount_options: [...m.mount_options] })),
  };
  if (requested.some((m) => m.propagation === MountPropagation.PROPAGATION_BIDIRECTIONAL))
    result.rootfsPropagation = 'rshared';
  // Without this the runtime's default could leave the container's tree private, cutting the slave link.
  else if (requested.some((m) => m.propagation === MountPropagation.PROPAGATION_HOST_TO_CONTAINER))
    result.rootfsPropagation = 'rslave';
  return result;
}
