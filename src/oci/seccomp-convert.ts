import { arch as nodeArch, release } from 'node:os';
import { invalidArgument } from '../errors/errors.js';
import { normalizeCapability } from './capabilities.js';
import type { OciSeccomp } from './spec-types.js';

/**
 * Seccomp profiles in the format Docker defined and containers-common ships (/usr/share/containers/seccomp.json):
 * the runtime-spec form plus `archMap` and per-rule `includes`/`excludes` that depend on the container's
 * capabilities, the machine's architecture and the kernel version. A profile already in runtime-spec form is a
 * special case of it (no archMap, no includes/excludes), so one converter serves both.
 */

export interface DockerSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface DockerSeccompFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface DockerSeccompSyscall {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: DockerSeccompArg[];
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}

export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls?: DockerSeccompSyscall[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
}

/** What a rule's includes/excludes are judged against. */
export interface SeccompTarget {
  /** The container's capabilities (bounding set), with or without `CAP_`. */
  capabilities: readonly string[];
  /** Go's name of the architecture (`amd64`, `arm64`, …), as the profiles' `arches` use it. Default: this host. */
  arch?: string;
  /** A kernel release (`6.1.0-18-amd64`). Default: this host's. */
  kernel?: string;
}

/** Node's process.arch names to Go's, which Docker-format profiles use. */
const goArch: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  s390x: 's390x',
  ppc64: 'ppc64le',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

/** The libseccomp name of each Go architecture: which archMap entry is this machine's. */
const seccompArch: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  arm64: 'SCMP_ARCH_AARCH64',
  s390x: 'SCMP_ARCH_S390X',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64le: 'SCMP_ARCH_MIPSEL64',
};

export function hostGoArch(): string {
  const a = nodeArch();
  return goArch[a] ?? a;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(v: unknown, what: string, source: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw invalidArgument(`seccomp profile ${source}: ${what} is not a list of strings`);
  return v;
}

function optionalNumber(v: unknown, what: string, source: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw invalidArgument(`seccomp profile ${source}: ${what} is not a non-negative integer`);
  return v;
}

function parseFilter(v: unknown, what: string, source: string): DockerSeccompFilter | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw invalidArgument(`seccomp profile ${source}: ${what} is not an object`);
  const out: DockerSeccompFilter = {};
  const caps = stringList(v['caps'], `${what}.caps`, source);
  const arches = stringList(v['arches'], `${what}.arches`, source);
  if (caps !== undefined) out.caps = caps;
  if (arches !== undefined) out.arches = arches;
  if (v['minKernel'] !== undefined && v['minKernel'] !== null && v['minKernel'] !== '') {
    if (typeof v['minKernel'] !== 'string' || parseKernel(v['minKernel']) === undefined)
      throw invalidArgument(
        `seccomp profile ${source}: ${what}.minKernel ${JSON.stringify(v['minKernel'])} is not a version`,
      );
    out.minKernel = v['minKernel'];
  }
  return out;
}

function parseArg(v: unknown, i: number, source: string): DockerSeccompArg {
  const what = `syscalls[${i}].args`;
  if (!isObj(v)) throw invalidArgument(`seccomp profile ${source}: ${what} holds a non-object`);
  const index = optionalNumber(v['index'], `${what}.index`, source);
  const value = optionalNumber(v['value'], `${what}.value`, source);
  const valueTwo = optionalNumber(v['valueTwo'], `${what}.valueTwo`, source);
  const op = v['op'];
  if (index === undefined || typeof op !== 'string' || !op.startsWith('SCMP_CMP_'))
    throw invalidArgument(`seccomp profile ${source}: ${what} needs an index and an SCMP_CMP_ op`);
  return { index, value: value ?? 0, ...(valueTwo === undefined ? {} : { valueTwo }), op };
}

function parseSyscall(v: unknown, i: number, source: string): DockerSeccompSyscall {
  if (!isObj(v)) throw invalidArgument(`seccomp profile ${source}: syscalls[${i}] is not an object`);
  const action = v['action'];
  if (typeof action !== 'string' || !action.startsWith('SCMP_ACT_'))
    throw invalidArgument(`seccomp profile ${source}: syscalls[${i}].action is not an SCMP_ACT_ action`);
  const names = stringList(v['names'], `syscalls[${i}].names`, source);
  const name = v['name'];
  if (name !== undefined && name !== null && name !== '' && typeof name !== 'string')
    throw invalidArgument(`seccomp profile ${source}: syscalls[${i}].name is not a string`);
  if (typeof name === 'string' && name !== '' && names !== undefined && names.length > 0)
    throw invalidArgument(`seccomp profile ${source}: syscalls[${i}] has both name and names`);
  const out: DockerSeccompSyscall = { action };
  if (typeof name === 'string' && name !== '') out.name = name;
  if (names !== undefined) out.names = names;
  const errnoRet = optionalNumber(v['errnoRet'], `syscalls[${i}].errnoRet`, source);
  if (errnoRet !== undefined) out.errnoRet = errnoRet;
  const args = v['args'];
  if (args !== undefined && args !== null) {
    if (!Array.isArray(args))
      throw invalidArgument(`seccomp profile ${source}: syscalls[${i}].args is not a list`);
    out.args = args.map((a) => parseArg(a, i, source));
  }
  const includes = parseFilter(v['includes'], `syscalls[${i}].includes`, source);
  const excludes = parseFilter(v['excludes'], `syscalls[${i}].excludes`, source);
  if (includes !== undefined) out.includes = includes;
  if (excludes !== undefined) out.excludes = excludes;
  return out;
}

/** Checks the shape of a profile read from JSON; `source` names the file in errors. */
export function parseSeccompProfile(json: unknown, source: string): DockerSeccompProfile {
  if (!isObj(json)) throw invalidArgument(`seccomp profile ${source} is not a JSON object`);
  const defaultAction = json['defaultAction'] ?? '';
  if (typeof defaultAction !== 'string' || (defaultAction !== '' && !defaultAction.startsWith('SCMP_ACT_')))
    throw invalidArgument(`seccomp profile ${source}: defaultAction is not an SCMP_ACT_ action`);
  const out: DockerSeccompProfile = { defaultAction };
  const errnoRet = optionalNumber(json['defaultErrnoRet'], 'defaultErrnoRet', source);
  if (errnoRet !== undefined) out.defaultErrnoRet = errnoRet;
  const architectures = stringList(json['architectures'], 'architectures', source);
  if (architectures !== undefined) out.architectures = architectures;
  const archMap = json['archMap'];
  if (archMap !== undefined && archMap !== null) {
    if (!Array.isArray(archMap)) throw invalidArgument(`seccomp profile ${source}: archMap is not a list`);
    out.archMap = archMap.map((a, i) => {
      if (!isObj(a) || typeof a['architecture'] !== 'string')
        throw invalidArgument(`seccomp profile ${source}: archMap[${i}] has no architecture`);
      const sub = stringList(a['subArchitectures'], `archMap[${i}].subArchitectures`, source);
      return { architecture: a['architecture'], ...(sub === undefined ? {} : { subArchitectures: sub }) };
    });
  }
  // Docker's loader refuses the ambiguity rather than guessing which list the author meant.
  if ((out.architectures?.length ?? 0) > 0 && (out.archMap?.length ?? 0) > 0)
    throw invalidArgument(`seccomp profile ${source}: both architectures and archMap are set`);
  const syscalls = json['syscalls'];
  if (syscalls !== undefined && syscalls !== null) {
    if (!Array.isArray(syscalls)) throw invalidArgument(`seccomp profile ${source}: syscalls is not a list`);
    out.syscalls = syscalls.map((s, i) => parseSyscall(s, i, source));
  }
  // Rules without a default action cannot be loaded; an empty profile is the documented "no seccomp".
  if (defaultAction === '' && (out.syscalls?.length ?? 0) > 0)
    throw invalidArgument(`seccomp profile ${source}: syscall rules without a defaultAction`);
  const flags = stringList(json['flags'], 'flags', source);
  if (flags !== undefined && flags.length > 0) out.flags = flags;
  for (const key of ['listenerPath', 'listenerMetadata'] as const) {
    const v = json[key];
    if (typeof v === 'string' && v !== '') out[key] = v;
  }
  return out;
}

/** "6.1.0-18-amd64" → [6, 1]; undefined when it does not start with major.minor. */
export function parseKernel(version: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m === null ? undefined : [Number(m[1]), Number(m[2])];
}

function kernelAtLeast(kernel: [number, number] | undefined, min: string): boolean {
  const want = parseKernel(min);
  // An unreadable running kernel counts as new: the rules gated this way allow newer syscalls.
  if (kernel === undefined || want === undefined) return true;
  return kernel[0] > want[0] || (kernel[0] === want[0] && kernel[1] >= want[1]);
}

/**
 * The runtime-spec seccomp object for one container, as containers/common and Docker build it: the archMap entry
 * of this architecture with its sub-architectures; each rule kept only when its `includes` all hold (every listed
 * capability granted, this architecture listed, the kernel at least minKernel) and its `excludes` do not (no listed
 * capability granted, this architecture not listed, the kernel older than minKernel). A profile with neither a
 * default action nor rules means "no seccomp": undefined.
 */
export function convertSeccompProfile(
  profile: DockerSeccompProfile,
  target: SeccompTarget,
): OciSeccomp | undefined {
  if (profile.defaultAction === '' && (profile.syscalls ?? []).length === 0) return undefined;
  const arch = target.arch ?? hostGoArch();
  const kernel = parseKernel(target.kernel ?? release());
  const caps = new Set(target.capabilities.map(normalizeCapability));

  const out: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out['defaultErrnoRet'] = profile.defaultErrnoRet;
  const architectures = [...(profile.architectures ?? [])];
  const native = seccompArch[arch];
  const entry = profile.archMap?.find((a) => a.architecture === native);
  if (entry !== undefined) architectures.push(entry.architecture, ...(entry.subArchitectures ?? []));
  if (architectures.length > 0) out.architectures = architectures;
  if (profile.flags !== undefined) out.flags = [...profile.flags];
  if (profile.listenerPath !== undefined) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata !== undefined) out['listenerMetadata'] = profile.listenerMetadata;

  const syscalls: NonNullable<OciSeccomp['syscalls']> = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes;
    const exc = rule.excludes;
    if (exc?.arches?.includes(arch) === true) continue;
    if (exc?.caps?.some((c) => caps.has(normalizeCapability(c))) === true) continue;
    if (exc?.minKernel !== undefined && kernelAtLeast(kernel, exc.minKernel)) continue;
    if (inc?.arches !== undefined && inc.arches.length > 0 && !inc.arches.includes(arch)) continue;
    if (inc?.caps?.every((c) => caps.has(normalizeCapability(c))) === false) continue;
    if (inc?.minKernel !== undefined && !kernelAtLeast(kernel, inc.minKernel)) continue;
    const names = rule.name !== undefined ? [rule.name] : (rule.names ?? []).filter((n) => n !== '');
    if (names.length === 0) continue;
    const call: NonNullable<OciSeccomp['syscalls']>[number] = { names, action: rule.action };
    if (rule.errnoRet !== undefined) call.errnoRet = rule.errnoRet;
    if (rule.args !== undefined && rule.args.length > 0) call.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(call);
  }
  if (syscalls.length > 0) out.syscalls = syscalls;
  return out;
}
