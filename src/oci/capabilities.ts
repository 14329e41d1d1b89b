import { readFileSync } from 'node:fs';

/** Linux capabilities by bit number (linux/capability.h), as the OCI spec names them. */
export const capabilityNames: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** cri-o's default_capabilities (internal/config/capabilities); containerd and Docker add five more. */
export const defaultCapabilities: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_KILL',
];

/** `chown`, `CAP_CHOWN` and `cap_chown` all become `CAP_CHOWN` (CRI passes names without the prefix). */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** The capability names in a /proc/<pid>/status mask (hex), lowest bit first; unknown bits are skipped. */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return capabilityNames.filter((_name, bit) => ((mask >> BigInt(bit)) & 1n) === 1n);
}

/**
 * The daemon's own effective capabilities: what a privileged container can get. Asking for more makes the
 * runtime's capset fail; this machine's bounding set lacks CAP_SYS_RESOURCE, so "all capabilities" would not
 * start. containerd's privileged containers use the current process's capabilities for the same reason.
 */
export function ownCapabilities(statusPath = '/proc/self/status'): string[] {
  const line = readFileSync(statusPath, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  const hex = line?.split(/\s+/)[1];
  return hex === undefined ? [...capabilityNames] : capabilitiesFromMask(hex);
}
