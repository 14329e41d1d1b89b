import { readFileSync, statfsSync } from 'node:fs';
import type { RuntimeInvocation } from './runtime-command.js';

/**
 * How the host mounts cgroups, decided the way runc and crun decide it (statfs of /sys/fs/cgroup, then of
 * /sys/fs/cgroup/unified):
 * - `v2`: cgroup2 at /sys/fs/cgroup;
 * - `hybrid`: v1 controllers under /sys/fs/cgroup/<ctrl> plus a cgroup2 mount at /sys/fs/cgroup/unified;
 * - `v1`: v1 only.
 */
export type CgroupMode = 'v1' | 'hybrid' | 'v2';

const cgroup2Magic = 0x63677270;

export interface CgroupLayout {
  mode: CgroupMode;
  /** Controllers bound to the cgroup2 mount of a hybrid host (here: hugetlb). crun refuses to run when any are. */
  unifiedControllers: string[];
}

export function detectCgroupLayout(root = '/sys/fs/cgroup'): CgroupLayout {
  if (statfsSync(root).type === cgroup2Magic) return { mode: 'v2', unifiedControllers: [] };
  let unifiedType: number;
  try {
    unifiedType = statfsSync(`${root}/unified`).type;
  } catch {
    return { mode: 'v1', unifiedControllers: [] };
  }
  if (unifiedType !== cgroup2Magic) return { mode: 'v1', unifiedControllers: [] };
  let controllers: string[] = [];
  try {
    controllers = readFileSync(`${root}/unified/cgroup.controllers`, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    // Older kernels have no cgroup.controllers on the hybrid mount: nothing is bound to it then.
  }
  return { mode: 'hybrid', unifiedControllers: controllers };
}

/**
 * The shell step of the v1 view. Making /sys/fs/cgroup private first matters on nodes where / is a shared mount:
 * the umount must not propagate back to the host. Only this subtree turns private, so volume mounts with
 * Bidirectional propagation keep their peer groups.
 */
const v1ViewScript = 'mount --make-rprivate /sys/fs/cgroup && umount /sys/fs/cgroup/unified && exec "$0" "$@"';

/**
 * Wraps a runtime so it runs in a private mount namespace in which the hybrid host's cgroup2 mount
 * (/sys/fs/cgroup/unified) is absent. The runtime then detects a pure v1 host and manages the v1 controllers
 * itself with its normal cgroupfs (or systemd) manager. See the note at the top of oci-runtime.ts for why crun
 * needs this and what it costs.
 *
 * `unshare` stops parsing its options at the first non-option (`/bin/sh`), so the runtime's arguments pass
 * through untouched; conmon can use the result as `-r <file>` plus one `--runtime-arg` per prefix element.
 */
export function v1ViewInvocation(runtimePath: string, unsharePath = '/usr/bin/unshare'): RuntimeInvocation {
  return {
    file: unsharePath,
    prefix: ['--mount', '--propagation', 'unchanged', '/bin/sh', '-c', v1ViewScript, runtimePath],
  };
}
