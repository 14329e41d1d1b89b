import type { OciDeviceRule, OciMount } from './spec-types.js';

/**
 * The mounts every container gets (containerd's populateDefaultUnixSpec plus the CRI /sys/fs/cgroup mount). A
 * caller's mount with the same destination replaces the default (the pod's /dev/shm, for one).
 * Privileged containers get /sys and /sys/fs/cgroup read-write.
 */
export function defaultMounts(privileged: boolean): OciMount[] {
  const sysRo = privileged ? [] : ['ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...sysRo] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', ...sysRo],
    },
  ];
}

/** containerd's default masked paths plus cri-o's additions (/proc/interrupts). */
export const defaultMaskedPaths: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const defaultReadonlyPaths: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/**
 * Device cgroup rules: deny everything, then allow the devices the runtime spec makes every container have
 * (/dev/null, zero, full, random, urandom, tty, console, ptmx) and the pty slaves. runc adds the same allowances
 * itself; writing them keeps crun and the spec's reader in agreement.
 */
export function defaultDeviceRules(privileged: boolean): OciDeviceRule[] {
  if (privileged) return [{ allow: true, access: 'rwm' }];
  const char = (major: number, minor: number | undefined): OciDeviceRule => ({
    allow: true,
    type: 'c',
    major,
    ...(minor === undefined ? {} : { minor }),
    access: 'rwm',
  });
  return [
    { allow: false, access: 'rwm' },
    char(1, 3),
    char(1, 5),
    char(1, 7),
    char(1, 8),
    char(1, 9),
    char(5, 0),
    char(5, 1),
    char(5, 2),
    char(136, undefined),
  ];
}

export const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
