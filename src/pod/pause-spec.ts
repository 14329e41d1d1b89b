import type { PodSandboxConfig } from '../cri/types.js';
import { buildSpec, type OciMount, type OciNamespace, type OciSpec } from '../oci/spec.js';
import { containerSeccomp } from './container-spec-security.js';
import type { PinnedNamespaces } from './namespaces.js';

export interface PauseSpecInput {
  imageConfig: Record<string, unknown>;
  rootfs: string;
  hostname: string;
  namespaces: PinnedNamespaces;
  hostNetwork: boolean;
  hostIpc: boolean;
  hostPid: boolean;
  resolvConf: string;
  hostnameFile: string;
  /** The pod's /dev/shm tmpfs; undefined with host IPC (the host's /dev/shm is used). */
  shm: string | undefined;
  cgroupsPath: string;
  restrictOomScoreAdj: boolean;
  /** containers-common's seccomp.json; cri-ts's fallback deny list is used when it is missing. */
  seccompDefaultProfile: string;
  sandboxId: string;
  config: PodSandboxConfig;
}

/** The OOM score kubelet gives pod infrastructure: the last thing the kernel should kill. */
const pauseOomScoreAdj = -998;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The image's numeric USER ("65535:65535"); a named user is resolved by the container layer, root otherwise. */
function numericUser(user: string): { uid: number; gid: number } {
  const [u = '', g = ''] = user.split(':');
  const uid = /^\d+$/.test(u) ? Number(u) : 0;
  const gid = /^\d+$/.test(g) ? Number(g) : uid;
  return { uid, gid };
}

const bind = (source: string, destination: string, readonly: boolean): OciMount => ({
  destination,
  type: 'bind',
  source,
  options: ['rbind', 'nosuid', 'nodev', 'noexec', readonly ? 'ro' : 'rw'],
});

/**
 * config.json of the pause container: it holds the pod's namespaces (joining the pinned net/ipc/uts files,
 * creating the pod's pid namespace) and does nothing else, so it gets no capabilities and a read-only rootfs.
 */
export async function buildPauseSpec(input: PauseSpecInput): Promise<OciSpec> {
  const { config, namespaces } = input;
  const imageProcess = (input.imageConfig['config'] ?? {}) as Record<string, unknown>;
  let args = [...strings(imageProcess['Entrypoint']), ...strings(imageProcess['Cmd'])];
  if (args.length === 0) args = ['/pause'];
  const sc = config.linux?.security_context ?? null;
  const imageUser = numericUser(typeof imageProcess['User'] === 'string' ? imageProcess['User'] : '');
  const uid = sc?.run_as_user ? Number(sc.run_as_user.value) : imageUser.uid;
  const gid = sc?.run_as_group ? Number(sc.run_as_group.value) : imageUser.gid;

  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (!input.hostNetwork && namespaces.net !== undefined) ns.push({ type: 'network', path: namespaces.net });
  if (!input.hostNetwork && namespaces.uts !== undefined) ns.push({ type: 'uts', path: namespaces.uts });
  if (!input.hostIpc && namespaces.ipc !== undefined) ns.push({ type: 'ipc', path: namespaces.ipc });
  if (!input.hostPid) ns.push({ type: 'pid' });

  const mounts: OciMount[] = [
    bind(input.resolvConf, '/etc/resolv.conf', true),
    bind(input.hostnameFile, '/etc/hostname', true),
  ];
  if (input.shm !== undefined) mounts.push(bind(input.shm, '/dev/shm', false));

  const m = config.metadata;
  // The pod's seccomp choice applies to its infra container too (RuntimeDefault: containers-common's profile).
  const seccomp = await containerSeccomp(sc, sc?.privileged ?? false, [], input.seccompDefaultProfile);
  return buildSpec({
    ...(seccomp === undefined ? {} : { seccomp }),
    args,
    env: strings(imageProcess['Env']),
    cwd: '/',
    user: { uid, gid, additionalGids: sc?.supplemental_groups.map(Number) ?? [] },
    terminal: false,
    ...(input.hostNetwork ? {} : { hostname: input.hostname }),
    rootfs: input.rootfs,
    rootfsReadonly: true,
    mounts,
    namespaces: ns,
    cgroupsPath: input.cgroupsPath,
    oomScoreAdj: pauseOomScoreAdj,
    restrictOomScoreAdj: input.restrictOomScoreAdj,
    capabilities: [],
    noNewPrivileges: true,
    privileged: sc?.privileged ?? false,
    annotations: {
      'io.kubernetes.cri.container-type': 'sandbox',
      'io.kubernetes.cri.sandbox-id': input.sandboxId,
      'io.kubernetes.cri.sandbox-name': m?.name ?? '',
      'io.kubernetes.cri.sandbox-namespace': m?.namespace ?? '',
      'io.kubernetes.cri.sandbox-uid': m?.uid ?? '',
    },
  });
}
