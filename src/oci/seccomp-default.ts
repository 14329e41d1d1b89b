import type { DockerSeccompProfile } from './seccomp-convert.js';

/**
 * cri-ts's own fallback seccomp profile, for nodes without containers-common's /usr/share/containers/seccomp.json
 * (set-up installs it; `runtime.seccomp_profile` names it). It is a deny list, not the containers-common allow
 * list: every call is allowed except those that reach into the host kernel or its global state, which fail with
 * EPERM. Calls that need a capability are refused unless the container holds that capability. Weaker than the
 * containers-common profile, but never "unconfined" by accident.
 */

const words = (s: string): string[] => s.split(/\s+/).filter((w) => w !== '');
const refuse = (names: string, unlessCap?: string) => ({
  names: words(names),
  action: 'SCMP_ACT_ERRNO',
  errnoRet: 1,
  ...(unlessCap === undefined ? {} : { excludes: { caps: [unlessCap] } }),
});

export const builtInSeccompProfile: DockerSeccompProfile = {
  defaultAction: 'SCMP_ACT_ALLOW',
  archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
  syscalls: [
    // Never from a container: kernel code, kexec, swap, accounting, obsolete or host-wide interfaces.
    refuse(`init_module finit_module delete_module create_module kexec_load kexec_file_load swapon swapoff acct
      uselib ustat sysfs _sysctl nfsservctl vm86 vm86old lookup_dcookie open_by_handle_at userfaultfd`),
    // Administration of the host, allowed only with the capability that grants it.
    refuse(
      'mount umount umount2 pivot_root fsopen fsmount fsconfig fspick move_mount open_tree mount_setattr',
      'CAP_SYS_ADMIN',
    ),
    refuse(
      'setns unshare sethostname setdomainname quotactl bpf fanotify_init name_to_handle_at',
      'CAP_SYS_ADMIN',
    ),
    refuse('keyctl add_key request_key', 'CAP_SYS_ADMIN'),
    refuse('perf_event_open', 'CAP_PERFMON'),
    refuse('reboot', 'CAP_SYS_BOOT'),
    refuse('settimeofday stime clock_settime clock_adjtime adjtimex', 'CAP_SYS_TIME'),
    refuse('iopl ioperm', 'CAP_SYS_RAWIO'),
    refuse('syslog', 'CAP_SYSLOG'),
    refuse('ptrace process_vm_readv process_vm_writev kcmp', 'CAP_SYS_PTRACE'),
    refuse('mbind migrate_pages move_pages set_mempolicy', 'CAP_SYS_NICE'),
  ],
};
