import { constants } from 'node:os';
import { Signal, type ContainerConfig } from '../cri/types.js';
import { invalidArgument } from '../errors/errors.js';

/** The parts of the OCI image config ("config" object of the image config JSON) a container process uses. */
export interface ImageProcess {
  user: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  stopSignal: string;
}

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Reads the process fields of an image config JSON; missing or mistyped fields are empty. */
export function imageProcess(imageConfig: Record<string, unknown>): ImageProcess {
  const raw = imageConfig['config'];
  const c = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  return {
    user: text(c['User']),
    env: strings(c['Env']),
    entrypoint: strings(c['Entrypoint']),
    cmd: strings(c['Cmd']),
    workingDir: text(c['WorkingDir']),
    stopSignal: text(c['StopSignal']),
  };
}

/**
 * The argv, with Docker's rules as kubelet documents them: a CRI command replaces the image ENTRYPOINT and drops
 * its CMD; CRI args alone replace only the CMD.
 */
export function processArgs(config: Pick<ContainerConfig, 'command' | 'args'>, image: ImageProcess): string[] {
  const args =
    config.command.length > 0
      ? [...config.command, ...config.args]
      : [...image.entrypoint, ...(config.args.length > 0 ? config.args : image.cmd)];
  if (args.length === 0 || args[0] === '')
    throw invalidArgument('no command: the request has no command and the image no entrypoint or cmd');
  return args;
}

const envKey = (entry: string): string => {
  const eq = entry.indexOf('=');
  return eq === -1 ? entry : entry.slice(0, eq);
};

/**
 * The environment: runtime-set variables first (HOSTNAME, TERM for a tty, as containerd and cri-o set them), then
 * the image's, then the request's; a later value for a key replaces an earlier one in its place.
 */
export function processEnv(
  config: Pick<ContainerConfig, 'envs' | 'tty'>,
  image: ImageProcess,
  hostname: string,
): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  const put = (entry: string): void => {
    const key = envKey(entry);
    if (!values.has(key)) order.push(key);
    values.set(key, entry);
  };
  if (hostname !== '') put(`HOSTNAME=${hostname}`);
  if (config.tty) put('TERM=xterm');
  image.env.forEach(put);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  for (const { key, value } of config.envs) {
    // The pinned proto carries values as bytes; env strings are what the runtime spec takes.
    const v = decoder.decode(value);
    if (key === '' || key.includes('=') || key.includes('\0'))
      throw invalidArgument(`environment variable name ${JSON.stringify(key)} is not valid`);
    if (v.includes('\0')) throw invalidArgument(`environment variable ${key} holds a NUL byte`);
    put(`${key}=${v}`);
  }
  return order.map((k) => values.get(k) as string);
}

/** The request's working_dir, else the image's WorkingDir, else "/". */
export function processCwd(config: Pick<ContainerConfig, 'working_dir'>, image: ImageProcess): string {
  const cwd = config.working_dir !== '' ? config.working_dir : image.workingDir !== '' ? image.workingDir : '/';
  if (!cwd.startsWith('/')) throw invalidArgument(`working directory ${JSON.stringify(cwd)} is not absolute`);
  return cwd;
}

/** Linux's real-time signal range in the numbering Go and Docker use (SIGRTMIN = 34). */
const rtMin = 34;
const rtMax = 64;

/** "SIGRTMIN+3", "RTMAX-1", "SIGTERM", "TERM", "15" → the canonical name, or undefined when it is none. */
export function canonicalSignal(value: string): string | undefined {
  const v = value.trim().toUpperCase();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    // The CRI Signal enum's split: SIGRTMIN+1…+15, then SIGRTMAX-14…-1.
    if (n >= rtMin && n <= rtMax) {
      if (n === rtMin) return 'SIGRTMIN';
      if (n === rtMax) return 'SIGRTMAX';
      return n - rtMin <= 15 ? `SIGRTMIN+${n - rtMin}` : `SIGRTMAX-${rtMax - n}`;
    }
    return Object.entries(constants.signals).find(([, num]) => num === n)?.[0];
  }
  const name = v.startsWith('SIG') ? v : `SIG${v}`;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt !== null) {
    const base = rt[1] === 'MIN' ? rtMin : rtMax;
    const n = rt[3] === undefined ? base : rt[2] === '+' ? base + Number(rt[3]) : base - Number(rt[3]);
    return n >= rtMin && n <= rtMax ? canonicalSignal(String(n)) : undefined;
  }
  if (name === 'SIGCLD') return 'SIGCHLD'; // the System V alias Node does not list
  return name in constants.signals ? name : undefined;
}

const enumToName = (key: string): string =>
  key
    .replace(/^SIGNAL_/, '')
    .replace(/PLUS(\d+)$/, '+$1')
    .replace(/MINUS(\d+)$/, '-$1');

/** Signal enum names ("SIGNAL_SIGRTMINPLUS1") to signal names ("SIGRTMIN+1"). */
function signalEnumName(value: Signal): string | undefined {
  const key = Object.entries(Signal).find(([, v]) => v === value)?.[0];
  return key === undefined ? undefined : enumToName(key);
}

/** A canonical signal name as the CRI Signal enum (for ContainerStatus.stop_signal); unknown names: the default. */
export function signalEnum(name: string): Signal {
  const canonical = canonicalSignal(name);
  const entry = Object.entries(Signal).find(
    ([key]) => key !== 'SIGNAL_RUNTIME_DEFAULT' && enumToName(key) === canonical,
  );
  return entry?.[1] ?? Signal.SIGNAL_RUNTIME_DEFAULT;
}

/**
 * The signal StopContainer sends first: the request's stop_signal (KEP-4960 container stop signals) when set,
 * else the image's STOPSIGNAL, else SIGTERM. Returned in canonical form ("SIGTERM", "SIGRTMIN+3").
 */
export function stopSignal(config: Pick<ContainerConfig, 'stop_signal'>, image: ImageProcess): string {
  if (config.stop_signal !== Signal.SIGNAL_RUNTIME_DEFAULT) {
    const name = signalEnumName(config.stop_signal);
    const canonical = name === undefined ? undefined : canonicalSignal(name);
    if (canonical === undefined)
      throw invalidArgument(`stop_signal ${String(config.stop_signal)} is not a signal`);
    return canonical;
  }
  if (image.stopSignal === '') return 'SIGTERM';
  const canonical = canonicalSignal(image.stopSignal);
  if (canonical === undefined)
    throw invalidArgument(`the image's stop signal ${JSON.stringify(image.stopSignal)} is not a signal`);
  return canonical;
}
