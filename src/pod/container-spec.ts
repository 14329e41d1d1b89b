import type { ContainerConfig, Mount, PodSandboxConfig } from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';
import { buildSpec, type OciSpec } from '../oci/spec.js';
import { containerDevices, hostDevices } from './container-spec-devices.js';
import { containerMounts } from './container-spec-mounts.js';
import { checkUserNamespace, containerNamespaces } from './container-spec-namespaces.js';
import { imageProcess, processArgs, processCwd, processEnv, stopSignal } from './container-spec-process.js';
import { containerOomScoreAdj, containerResources } from './container-spec-resources.js';
import { checkAppArmor, containerCapabilities, containerSeccomp } from './container-spec-security.js';
import { containerUser } from './container-spec-user.js';
import type { SandboxRecord } from './sandbox.js';

export interface ContainerSpecInput {
  containerId: string;
  /** The CRI request's config. */
  config: ContainerConfig;
  sandbox: SandboxRecord;
  /** As sent with CreateContainer (may be null; sandbox.config is used then). */
  sandboxConfig: PodSandboxConfig | null;
  /** The OCI image config JSON (its "config" object holds User, Env, Entrypoint, Cmd, WorkingDir, StopSignal). */
  imageConfig: Record<string, unknown>;
  /** The container's mounted rootfs; users and groups are resolved in its /etc/passwd and /etc/group. */
  rootfs: string;
  cgroupsPath: string;
  restrictOomScoreAdj: boolean;
  /** containers-common's profile (/usr/share/containers/seccomp.json); a missing file means cri-ts's fallback deny list. */
  seccompDefaultProfile: string;
  /** The runtime's default pids limit; undefined or not positive: none. */
  pidsLimit?: number;
  /** Whether the container's runtime handler can make recursive read-only mounts. */
  recursiveReadOnlyMounts: boolean;
  /** The pid of the target container's process, for a TARGET pid namespace (resolved from target_id). */
  targetPid?: number;
  /** Where to read the host's mount propagation; tests point it at a file of their own. */
  mountinfoPath?: string;
  /** The host's device directory, walked for privileged containers. */
  hostDevDir?: string;
}

export interface ContainerSpecResult {
  spec: OciSpec;
  /** What ContainerStatus.user reports: the uid/gid/supplemental groups actually applied. */
  user: { uid: number; gid: number; supplementalGroups: number[] };
  /** The CRI mounts as applied (for ContainerStatus.mounts). */
  mounts: Mount[];
  /** The request's stop_signal, else the image's StopSignal, else SIGTERM; canonical ("SIGTERM"). */
  stopSignal: string;
  /** The process environment as written to the spec. */
  env: string[];
}

/**
 * config.json of a container of a pod, from the image config and the CRI request, on top of buildSpec's
 * defaults: the process (argv, env, cwd, user with its groups), capabilities, seccomp, masked and read-only paths,
 * the pod's files and the request's volumes, devices, resources, the pod's namespaces and the annotations
 * containerd writes. Nothing is written or mounted here; the rootfs is only read.
 */
export async function buildContainerSpec(input: ContainerSpecInput): Promise<ContainerSpecResult> {
  const { config, sandbox } = input;
  const podConfig = input.sandboxConfig ?? sandbox.config;
  const sc = config.linux?.security_context ?? null;
  const privileged = sc?.privileged ?? false;
  // Whether a pod may hold privileged containers is decided when it is created: the stored config is the truth.
  if (privileged && sandbox.config.linux?.security_context?.privileged !== true)
    throw invalidArgument(
      `sandbox ${sandbox.id} was not created privileged; it cannot hold a privileged container`,
    );
  checkUserNamespace(podConfig.linux?.security_context?.namespace_options ?? null, 'sandbox');
  checkAppArmor(sc);

  const image = imageProcess(input.imageConfig);
  const user = await containerUser(input.rootfs, sc, image.user);
  const caps = containerCapabilities(sc?.capabilities ?? null);
  const seccomp = await containerSeccomp(sc, privileged, caps.capabilities, input.seccompDefaultProfile);
  const namespaces = containerNamespaces(sandbox, sc?.namespace_options ?? null, input.targetPid);
  const hasUts = namespaces.some((n) => n.type === 'uts');
  const volumes = await containerMounts(
    config.mounts,
    sandbox,
    { recursiveReadOnly: input.recursiveReadOnlyMounts },
    input.mountinfoPath,
  );
  const requestedDevices = await containerDevices(config.devices);
  const resources = config.linux?.resources ?? null;

  let devices = requestedDevices.devices;
  if (privileged) {
    // The request's devices keep their container paths; the host's fill in the rest.
    const taken = new Set(devices.map((d) => d.path));
    devices = [...(await hostDevices(input.hostDevDir)).filter((d) => !taken.has(d.path)), ...devices];
  }

  const metadata = podConfig.metadata;
  const specResources = containerResources(resources, input.pidsLimit);
  const spec = buildSpec({
    args: processArgs(config, image),
    env: processEnv(config, image, sandbox.hostname),
    cwd: processCwd(config, image),
    user: { uid: user.uid, gid: user.gid, additionalGids: user.supplementalGroups },
    terminal: config.tty,
    ...(hasUts ? { hostname: sandbox.hostname } : {}),
    rootfs: input.rootfs,
    rootfsReadonly: sc?.readonly_rootfs ?? false,
    mounts: volumes.mounts,
    namespaces,
    cgroupsPath: input.cgroupsPath,
    ...(specResources === undefined ? {} : { resources: specResources }),
    oomScoreAdj: containerOomScoreAdj(resources),
    restrictOomScoreAdj: input.restrictOomScoreAdj,
    capabilities: caps.capabilities,
    noNewPrivileges: sc?.no_new_privs ?? false,
    privileged,
    // kubelet sends the paths it wants (none for procMount Unmasked is indistinguishable from unset in proto3).
    ...(sc !== null && sc.masked_paths.length > 0 ? { maskedPaths: sc.masked_paths } : {}),
    ...(sc !== null && sc.readonly_paths.length > 0 ? { readonlyPaths: sc.readonly_paths } : {}),
    ...(seccomp === undefined ? {} : { seccomp }),
    devices,
    deviceRules: requestedDevices.rules,
    ...(volumes.rootfsPropagation === undefined ? {} : { rootfsPropagation: volumes.rootfsPropagation }),
    annotations: {
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': config.metadata?.name ?? '',
      'io.kubernetes.cri.sandbox-id': sandbox.id,
      'io.kubernetes.cri.sandbox-name': metadata?.name ?? '',
      'io.kubernetes.cri.sandbox-namespace': metadata?.namespace ?? '',
      'io.kubernetes.cri.sandbox-uid': metadata?.uid ?? '',
      'io.kubernetes.cri.image-name': config.image?.user_specified_image || config.image?.image || '',
    },
  });
  // buildSpec has no notion of ambient capabilities; they belong in the inheritable and ambient sets too.
  if (!privileged && caps.ambient.length > 0) {
    spec.process.capabilities.inheritable = [...caps.ambient];
    spec.process.capabilities.ambient = [...caps.ambient];
  }
  return {
    spec,
    user,
    mounts: volumes.applied,
    stopSignal: stopSignal(config, image),
    env: spec.process.env,
  };
}
