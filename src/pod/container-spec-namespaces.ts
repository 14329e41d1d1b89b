import { NamespaceMode, type NamespaceOption } from '../cri/types.js';
import { failedPrecondition, invalidArgument } from '../errors/errors.js';
import type { OciNamespace } from '../oci/spec-types.js';
import type { SandboxRecord } from './sandbox.js';

type SandboxNamespaces = Pick<
  SandboxRecord,
  'id' | 'namespaces' | 'hostNetwork' | 'hostIpc' | 'hostPid' | 'pause'
>;

/** User namespaces are refused until cri-ts maps ids (and advertises the feature in Status). */
export function checkUserNamespace(options: NamespaceOption | null, what: string): void {
  const userns = options?.userns_options ?? null;
  if (userns === null || userns.mode === NamespaceMode.NODE) return;
  if (userns.mode === NamespaceMode.POD) throw invalidArgument('user namespaces are not supported');
  throw invalidArgument(`${what}: user namespace mode ${String(userns.mode)} is not POD or NODE`);
}

/**
 * The container's namespaces. Network, IPC and UTS are the pod's: its pinned files, or the host's (no entry)
 * when the pod uses the host's. The mount namespace is always new. PID follows the request: POD joins the pause
 * process's (the host's for a host-PID pod), CONTAINER is new, NODE the host's, TARGET the target container's
 * (`targetPid`, resolved by the caller from target_id).
 */
export function containerNamespaces(
  sandbox: SandboxNamespaces,
  options: NamespaceOption | null,
  targetPid?: number,
): OciNamespace[] {
  checkUserNamespace(options, 'container');
  const ns: OciNamespace[] = [{ type: 'mount' }];
  const pinned = (type: 'network' | 'ipc' | 'uts', host: boolean, path: string | undefined): void => {
    if (host) return;
    if (path === undefined)
      throw failedPrecondition(`sandbox ${sandbox.id} has no pinned ${type} namespace to join`);
    ns.push({ type, path });
  };
  pinned('network', sandbox.hostNetwork, sandbox.namespaces.net);
  pinned('ipc', sandbox.hostIpc, sandbox.namespaces.ipc);
  // The uts namespace is pinned with the network one: a host-network pod keeps the node's hostname.
  pinned('uts', sandbox.hostNetwork, sandbox.namespaces.uts);

  // api.proto: "The CRI default is POD"; an absent NamespaceOption means POD everywhere.
  const pid = options?.pid ?? NamespaceMode.POD;
  switch (pid) {
    case NamespaceMode.POD:
      if (sandbox.hostPid) break;
      if (!Number.isInteger(sandbox.pause.pid) || sandbox.pause.pid <= 0)
        throw failedPrecondition(
          `sandbox ${sandbox.id} has no running pause process to share a pid namespace with`,
        );
      ns.push({ type: 'pid', path: `/proc/${sandbox.pause.pid}/ns/pid` });
      break;
    case NamespaceMode.CONTAINER:
      ns.push({ type: 'pid' });
      break;
    case NamespaceMode.NODE:
      break;
    case NamespaceMode.TARGET:
      if (targetPid === undefined || !Number.isInteger(targetPid) || targetPid <= 0)
        throw invalidArgument(
          `pid namespace target ${JSON.stringify(options?.target_id ?? '')} is not a running container`,
        );
      ns.push({ type: 'pid', path: `/proc/${targetPid}/ns/pid` });
      break;
    default:
      throw invalidArgument(`pid namespace mode ${String(pid)} is unknown`);
  }
  return ns;
}
