import {
  SecurityProfile_ProfileType,
  type Capability,
  type LinuxContainerSecurityContext,
  type SecurityProfile,
} from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';
import {
  capabilityNames,
  defaultCapabilities,
  normalizeCapability,
  ownCapabilities,
} from '../oci/capabilities.js';
import { localhostSeccomp, runtimeDefaultSeccomp } from '../oci/seccomp-load.js';
import type { OciSeccomp } from '../oci/spec-types.js';

export interface ContainerCapabilities {
  /** bounding = effective = permitted. */
  capabilities: string[];
  /** Also inheritable and ambient (CRI add_ambient_capabilities). */
  ambient: string[];
}

const known = new Set(capabilityNames);

function checked(name: string): string {
  const cap = normalizeCapability(name);
  if (!known.has(cap)) throw invalidArgument(`capability ${JSON.stringify(name)} is unknown`);
  return cap;
}

const isAll = (name: string): boolean => name.trim().toUpperCase() === 'ALL';

/**
 * The capability set from the runtime's defaults and the request's add/drop, in containerd's order so the
 * combinations mean the same there and here: "ALL" in add gives every capability the daemon holds (more would
 * fail at capset), then "ALL" in drop empties the set, then single adds, then single drops. So drop ALL + add X
 * is only X, and add ALL + drop X is all but X.
 */
export function containerCapabilities(
  caps: Capability | null,
  own: () => string[] = ownCapabilities,
): ContainerCapabilities {
  let set = [...defaultCapabilities];
  if (caps === null) return { capabilities: set, ambient: [] };
  if (caps.add_capabilities.some(isAll)) set = own();
  if (caps.drop_capabilities.some(isAll)) set = [];
  const ambient = [...new Set(caps.add_ambient_capabilities.filter((c) => !isAll(c)).map(checked))];
  for (const c of [...caps.add_capabilities.filter((n) => !isAll(n)).map(checked), ...ambient])
    if (!set.includes(c)) set.push(c);
  const drop = new Set(caps.drop_capabilities.filter((n) => !isAll(n)).map(checked));
  return {
    capabilities: set.filter((c) => !drop.has(c)),
    ambient: ambient.filter((c) => !drop.has(c)),
  };
}

type SeccompChoice = { kind: 'unconfined' } | { kind: 'default' } | { kind: 'localhost'; path: string };

/** The structured field wins; the deprecated string applies only when the structured one is unset. */
function seccompChoice(profile: SecurityProfile | null, legacy: string): SeccompChoice {
  if (profile !== null) {
    switch (profile.profile_type) {
      case SecurityProfile_ProfileType.RuntimeDefault:
        return { kind: 'default' };
      case SecurityProfile_ProfileType.Unconfined:
        return { kind: 'unconfined' };
      case SecurityProfile_ProfileType.Localhost:
        if (profile.localhost_ref === '') throw invalidArgument('seccomp profile Localhost needs a localhost_ref');
        return { kind: 'localhost', path: profile.localhost_ref };
      default:
        throw invalidArgument(`seccomp profile type ${String(profile.profile_type)} is unknown`);
    }
  }
  // api.proto: seccomp_profile_path "" is identical with unconfined.
  if (legacy === '' || legacy === 'unconfined') return { kind: 'unconfined' };
  if (legacy === 'runtime/default' || legacy === 'docker/default') return { kind: 'default' };
  if (legacy.startsWith('localhost/')) return { kind: 'localhost', path: legacy.slice('localhost/'.length) };
  throw invalidArgument(
    `seccomp_profile_path ${JSON.stringify(legacy)} is not runtime/default, unconfined or localhost/<path>`,
  );
}

/**
 * The container's seccomp filter: none for privileged containers and Unconfined, the runtime default
 * (containers-common's profile, filtered by the container's capabilities) for RuntimeDefault, the node's file for
 * Localhost.
 */
export async function containerSeccomp(
  sc: Pick<LinuxContainerSecurityContext, 'seccomp' | 'seccomp_profile_path'> | null,
  privileged: boolean,
  capabilities: readonly string[],
  defaultProfilePath: string,
): Promise<OciSeccomp | undefined> {
  const choice = seccompChoice(sc?.seccomp ?? null, sc?.seccomp_profile_path ?? '');
  if (privileged) return undefined;
  switch (choice.kind) {
    case 'unconfined':
      return undefined;
    case 'default':
      return runtimeDefaultSeccomp(defaultProfilePath, { capabilities });
    case 'localhost':
      return localhostSeccomp(choice.path, { capabilities });
  }
}

/**
 * AppArmor is not enabled on the hosts cri-ts supports yet, so only the choices that need no profile are accepted:
 * RuntimeDefault (which then means no profile, as it does in containerd without AppArmor) and Unconfined. Asking
 * for a named profile fails loudly instead of running the container without the confinement it asked for.
 */
export function checkAppArmor(
  sc: Pick<LinuxContainerSecurityContext, 'apparmor' | 'apparmor_profile'> | null,
): void {
  const profile = sc?.apparmor ?? null;
  if (profile !== null) {
    // Decoded enums can hold values newer than the pinned proto; widen to check them.
    const type: number = profile.profile_type;
    if (type === SecurityProfile_ProfileType.Localhost)
      throw invalidArgument(
        `apparmor profile ${JSON.stringify(profile.localhost_ref)} cannot be applied: AppArmor is not enabled on this node`,
      );
    if (type !== SecurityProfile_ProfileType.RuntimeDefault && type !== SecurityProfile_ProfileType.Unconfined)
      throw invalidArgument(`apparmor profile type ${String(type)} is unknown`);
    return;
  }
  const legacy = sc?.apparmor_profile ?? '';
  if (legacy === '' || legacy === 'runtime/default' || legacy === 'unconfined') return;
  throw invalidArgument(
    `apparmor profile ${JSON.stringify(legacy)} cannot be applied: AppArmor is not enabled on this node`,
  );
}
