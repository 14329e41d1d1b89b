import { SupplementalGroupsPolicy, type LinuxContainerSecurityContext } from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';
import { checkId, imageGroups, imagePasswd, memberGroups, resolveUser } from './image-user.js';

export type UserSecurityContext = Pick<
  LinuxContainerSecurityContext,
  'run_as_user' | 'run_as_group' | 'run_as_username' | 'supplemental_groups' | 'supplemental_groups_policy'
>;

/** The identity the container's first process gets; ContainerStatus.user reports exactly this. */
export interface ContainerUser {
  uid: number;
  gid: number;
  /** Always holds the primary gid first, so `id -G` and the status agree (containerd does the same). */
  supplementalGroups: number[];
}

/**
 * The container's user, as containerd and cri-o choose it: run_as_user or run_as_username replace the image USER
 * entirely (its group too), the image USER applies otherwise; run_as_group replaces the primary gid. With the
 * Merge policy (the default) the user's memberships in the image's /etc/group join the requested supplemental
 * groups; with Strict only the requested ones (and the primary gid) apply.
 */
export async function containerUser(
  rootfs: string,
  sc: UserSecurityContext | null,
  imageUser: string,
): Promise<ContainerUser> {
  const runAsUser = sc?.run_as_user ?? null;
  const runAsGroup = sc?.run_as_group ?? null;
  const runAsUsername = sc?.run_as_username ?? '';
  // Decoded enums can hold values newer than the pinned proto; widen to check them.
  const policy: number = sc?.supplemental_groups_policy ?? SupplementalGroupsPolicy.Merge;
  // api.proto: "run_as_group should only be specified when run_as_user or run_as_username is specified;
  // otherwise, the runtime MUST error."
  if (runAsGroup !== null && runAsUser === null && runAsUsername === '')
    throw invalidArgument('run_as_group is set without run_as_user or run_as_username');
  if (runAsUser !== null && runAsUsername !== '')
    throw invalidArgument('only one of run_as_user and run_as_username may be set');
  if (policy !== SupplementalGroupsPolicy.Merge && policy !== SupplementalGroupsPolicy.Strict)
    throw invalidArgument(`supplemental_groups_policy ${String(policy)} is unknown`);

  let spec: string;
  if (runAsUser !== null) spec = String(checkId(runAsUser.value, 'run_as_user'));
  else if (runAsUsername !== '') {
    if (runAsUsername.includes(':'))
      throw invalidArgument(`run_as_username ${JSON.stringify(runAsUsername)} holds a colon`);
    spec = runAsUsername;
  } else spec = imageUser;

  const [passwd, groups] = await Promise.all([imagePasswd(rootfs), imageGroups(rootfs)]);
  const resolved = resolveUser(spec, passwd, groups);
  const gid = runAsGroup === null ? resolved.gid : checkId(runAsGroup.value, 'run_as_group');
  const fromImage =
    policy === SupplementalGroupsPolicy.Merge && resolved.name !== undefined
      ? memberGroups(resolved.name, groups)
      : [];
  const requested = (sc?.supplemental_groups ?? []).map((g) => checkId(g, 'supplemental group'));
  return { uid: resolved.uid, gid, supplementalGroups: [...new Set([gid, ...fromImage, ...requested])] };
}
