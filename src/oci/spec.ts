import { posix } from 'node:path';
import { invalidArgument } from '../errors/errors.js';
import { defaultCapabilities, normalizeCapability, ownCapabilities } from './capabilities.js';
import { clampOomScoreAdj } from './oom-score-adj.js';
import {
  defaultDeviceRules,
  defaultMaskedPaths,
  defaultMounts,
  defaultPath,
  defaultReadonlyPaths,
} from './spec-defaults.js';
import type {
  OciDevice,
  OciDeviceRule,
  OciHugepageLimit,
  OciMount,
  OciNamespace,
  OciResources,
  OciRlimit,
  OciSeccomp,
  OciSpec,
  OciUser,
} from './spec-types.js';

export { clampOomScoreAdj, ownOomScoreAdj } from './oom-score-adj.js';
export type * from './spec-types.js';

/** Resource limits in the units of the runtime spec (bytes, microseconds, cpu shares). Unset: no limit. */
export interface SpecResources {
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  memoryLimit?: number;
  memorySwap?: number;
  pidsLimit?: number;
  hugepageLimits?: OciHugepageLimit[];
  /** cgroup v2 files; runc refuses them on v1 hosts. */
  unified?: Record<string, string>;
}

/** What a container is, in the terms the spec builder needs; sandbox and container code fill it in. */
export interface SpecInput {
  args: string[];
  env: string[];
  cwd: string;
  user: OciUser;
  terminal: boolean;
  /** Needs a uts namespace. */
  hostname?: string;
  /** The prepared rootfs (an overlay or bind mount of the image layers). */
  rootfs: string;
  rootfsReadonly: boolean;
  /** Added after the defaults; one with the destination of a default replaces that default. */
  mounts?: OciMount[];
  /** `mount` is needed by every runtime; a namespace with a path is joined, one without is created. */
  namespaces: OciNamespace[];
  /** cgroupfs: an absolute path (`/cri-ts/pod1/ctr1`); systemd: `slice:prefix:name`. */
  cgroupsPath?: string;
  resources?: SpecResources;
  oomScoreAdj?: number;
  /** Raise oomScoreAdj to the daemon's own when it is lower (config `runtime.restrict_oom_score_adj`). */
  restrictOomScoreAdj?: boolean;
  /** Names with or without `CAP_`; default cri-o's default set. Ignored when privileged (the daemon's own). */
  capabilities?: string[];
  noNewPrivileges?: boolean;
  privileged?: boolean;
  /** Default: containerd's masked paths; privileged containers get none. An empty list masks nothing. */
  maskedPaths?: string[];
  /** Default: containerd's read-only paths; privileged containers get none. */
  readonlyPaths?: string[];
  /** A runtime-spec seccomp object (e.g. /usr/share/containers/seccomp.json); undefined: unconfined. */
  seccomp?: OciSeccomp;
  sysctls?: Record<string, string>;
  annotations?: Record<string, string>;
  rlimits?: OciRlimit[];
  devices?: OciDevice[];
  /** Device cgroup rules added after the defaults. */
  deviceRules?: OciDeviceRule[];
  /** `rprivate` (default of the runtimes), `rslave` or `rshared` for bidirectional mount propagation. */
  rootfsPropagation?: string;
  apparmorProfile?: string;
}

const namespaceTypes = new Set(['network', 'ipc', 'uts', 'pid', 'mount', 'cgroup', 'user']);

function cleanDestination(dest: string): string {
  if (!posix.isAbsolute(dest)) throw invalidArgument(`mount destination ${JSON.stringify(dest)} is not absolute`);
  const clean = posix.normalize(dest);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
}

/** Defaults first, in their fixed order; the caller's mounts after them, parents before children. */
function buildMounts(privileged: boolean, extra: OciMount[]): OciMount[] {
  const own = extra.map((m) => ({ ...m, destination: cleanDestination(m.destination), options: [...m.options] }));
  const taken = new Set(own.map((m) => m.destination));
  const depth = (m: OciMount): number => (m.destination === '/' ? 0 : m.destination.split('/').length);
  const sorted = own
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m) - depth(b.m) || a.i - b.i)
    .map(({ m }) => m);
  return [...defaultMounts(privileged).filter((m) => !taken.has(m.destination)), ...sorted];
}

function buildResources(r: SpecResources | undefined, rules: OciDeviceRule[]): OciResources {
  const out: OciResources = { devices: rules };
  if (r === undefined) return out;
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (r.cpuShares !== undefined) cpu.shares = r.cpuShares;
  if (r.cpuQuota !== undefined) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod !== undefined) cpu.period = r.cpuPeriod;
  if (r.cpusetCpus !== undefined && r.cpusetCpus !== '') cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems !== undefined && r.cpusetMems !== '') cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  const memory: NonNullable<OciResources['memory']> = {};
  if (r.memoryLimit !== undefined) memory.limit = r.memoryLimit;
  if (r.memorySwap !== undefined) memory.swap = r.memorySwap;
  if (Object.keys(memory).length > 0) out.memory = memory;
  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit };
  if (r.hugepageLimits !== undefined && r.hugepageLimits.length > 0)
    out.hugepageLimits = r.hugepageLimits.map((h) => ({ ...h }));
  if (r.unified !== undefined && Object.keys(r.unified).length > 0) out.unified = { ...r.unified };
  return out;
}

/**
 * Builds config.json for runc/crun. The result is plain JSON data: write it with JSON.stringify into the bundle.
 * Privileged containers get the daemon's own capabilities, every device allowed, writable /sys, no masked or
 * read-only paths; everything else starts from the containerd/cri-o defaults.
 */
export function buildSpec(input: SpecInput): OciSpec {
  if (input.args.length === 0 || input.args[0] === '') throw invalidArgument('a container needs a command');
  if (!posix.isAbsolute(input.cwd))
    throw invalidArgument(`working directory ${JSON.stringify(input.cwd)} is not absolute`);
  if (input.rootfs === '') throw invalidArgument('a container needs a rootfs');
  const seen = new Set<string>();
  for (const ns of input.namespaces) {
    if (!namespaceTypes.has(ns.type)) throw invalidArgument(`unknown namespace type ${JSON.stringify(ns.type)}`);
    if (seen.has(ns.type)) throw invalidArgument(`namespace ${ns.type} listed twice`);
    seen.add(ns.type);
  }
  if (input.hostname !== undefined && input.hostname !== '' && !seen.has('uts')) {
    throw invalidArgument(`hostname ${input.hostname} needs a uts namespace`);
  }
  const privileged = input.privileged === true;

  const caps = privileged
    ? ownCapabilities()
    : [...new Set((input.capabilities ?? defaultCapabilities).map(normalizeCapability))];
  const env = input.env.some((e) => e.startsWith('PATH='))
    ? [...input.env]
    : [`PATH=${defaultPath}`, ...input.env];
  const user: OciUser = { uid: input.user.uid, gid: input.user.gid };
  if (input.user.additionalGids !== undefined && input.user.additionalGids.length > 0) {
    user.additionalGids = [...input.user.additionalGids];
  }
  if (input.user.umask !== undefined) user.umask = input.user.umask;

  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: input.terminal,
      user,
      args: [...input.args],
      env,
      cwd: input.cwd,
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      noNewPrivileges: input.noNewPrivileges === true,
    },
    root: { path: input.rootfs, readonly: input.rootfsReadonly },
    mounts: buildMounts(privileged, input.mounts ?? []),
    linux: {
      namespaces: input.namespaces.map((ns) =>
        ns.path === undefined ? { type: ns.type } : { type: ns.type, path: ns.path },
      ),
      resources: buildResources(input.resources, [
        ...defaultDeviceRules(privileged),
        ...(input.deviceRules ?? []),
      ]),
    },
  };
  if (input.oomScoreAdj !== undefined) {
    spec.process.oomScoreAdj = clampOomScoreAdj(input.oomScoreAdj, input.restrictOomScoreAdj === true);
  }
  if (input.rlimits !== undefined && input.rlimits.length > 0)
    spec.process.rlimits = input.rlimits.map((r) => ({ ...r }));
  if (input.apparmorProfile !== undefined && input.apparmorProfile !== '')
    spec.process.apparmorProfile = input.apparmorProfile;
  if (input.hostname !== undefined && input.hostname !== '') spec.hostname = input.hostname;
  if (input.annotations !== undefined && Object.keys(input.annotations).length > 0)
    spec.annotations = { ...input.annotations };
  if (input.cgroupsPath !== undefined && input.cgroupsPath !== '') spec.linux.cgroupsPath = input.cgroupsPath;
  if (input.devices !== undefined && input.devices.length > 0)
    spec.linux.devices = input.devices.map((d) => ({ ...d }));
  if (input.sysctls !== undefined && Object.keys(input.sysctls).length > 0)
    spec.linux.sysctl = { ...input.sysctls };
  if (input.seccomp !== undefined) spec.linux.seccomp = input.seccomp;
  if (input.rootfsPropagation !== undefined && input.rootfsPropagation !== '') {
    spec.linux.rootfsPropagation = input.rootfsPropagation;
  }
  if (!privileged) {
    spec.linux.maskedPaths = [...(input.maskedPaths ?? defaultMaskedPaths)];
    spec.linux.readonlyPaths = [...(input.readonlyPaths ?? defaultReadonlyPaths)];
  }
  return spec;
}
