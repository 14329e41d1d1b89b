import { constants as osConstants } from 'node:os';
import { mkdir, readFile, realpath, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { alreadyExists, internal, invalidArgument, notFound, throwIfAborted } from '../errors/errors.js';
import { runBounded } from '../process/run-bounded.js';

/**
 * Pod namespaces pinned as files. Node cannot unshare or setns a thread of its own, so util-linux does the work:
 * `unshare --net=FILE --ipc=FILE --uts=FILE -- sh -c …` creates the namespaces, bind-mounts each nsfs file onto
 * FILE (from a forked helper still in our mount namespace) and then runs a tiny script inside them to write
 * the pod's sysctls. No process has to stay in the namespaces: the bind mounts keep them alive, in the mount
 * namespace runc and conmon also run in, until unpinNamespaces unmounts and unlinks them.
 */
export type PinnableNamespace = 'net' | 'ipc' | 'uts';

/** Bind-mounted nsfs files, one per pinned kind. */
export interface PinnedNamespaces {
  net?: string;
  ipc?: string;
  uts?: string;
}

const pinnable: readonly PinnableNamespace[] = ['net', 'ipc', 'uts'];
const commandTimeoutMs = 30_000;
const outputCap = 4 << 20;
// The sysctl script's exit code when a write fails; anything else non-zero is unshare's own failure.
const sysctlFailed = 97;

/** Runs a program to completion, capturing capped output; rejects only when it cannot be run or is aborted. */
async function run(
  argv: readonly string[],
  signal: AbortSignal,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; code: number }> {
  throwIfAborted(signal);
  const [file, ...args] = argv;
  if (file === undefined) throw invalidArgument('empty command');
  const r = await runBounded(file, args, {
    signal,
    timeoutMs,
    outputCap,
    timeoutMessage: `${file} did not finish within ${timeoutMs} ms`,
  });
  // A signal death reads as the shell would report it: 128 + the signal's number.
  return {
    stdout: r.stdout,
    stderr: r.stderr,
    code: r.code ?? 128 + (r.signal === null ? 0 : osConstants.signals[r.signal]),
  };
}

// The shape Kubernetes accepts for sysctl names, in dotted or slashed form (slashes allow dots inside a segment,
// as in net/ipv4/conf/eth0.100/forwarding).
const sysctlName = /^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/;

/** The namespace a sysctl belongs to, following Kubernetes' list of namespaced sysctls; undefined for others. */
export function sysctlNamespace(name: string): PinnableNamespace | undefined {
  const dotted = name.replaceAll('/', '.');
  if (dotted.startsWith('net.')) return 'net';
  if (dotted === 'kernel.sem' || dotted.startsWith('kernel.shm') || dotted.startsWith('kernel.msg')) return 'ipc';
  if (dotted.startsWith('fs.mqueue.')) return 'ipc';
  return undefined;
}

/** The path below /proc/sys a sysctl name refers to. */
export function sysctlPath(name: string): string {
  return name.includes('/') ? name : name.replaceAll('.', '/');
}

/**
 * Checks every sysctl before anything is created: only namespaced names, each in a namespace that is being
 * pinned (a host-network pod cannot set net.*), and values that cannot smuggle a second line into /proc.
 */
export function validateSysctls(sysctls: Record<string, string>, kinds: readonly PinnableNamespace[]): void {
  for (const [name, value] of Object.entries(sysctls)) {
    if (!sysctlName.test(name)) throw invalidArgument(`invalid sysctl name ${JSON.stringify(name)}`);
    const kind = sysctlNamespace(name);
    if (kind === undefined) throw invalidArgument(`sysctl ${name} is not namespaced and cannot be set for a pod`);
    if (!kinds.includes(kind)) {
      throw invalidArgument(`sysctl ${name} needs a private ${kind} namespace, which this pod does not have`);
    }
    if (/[\n\r\0]/.test(value)) throw invalidArgument(`sysctl ${name} has a value with a line break or NUL`);
  }
}

// Runs inside the new namespaces: /proc/sys/net and the IPC sysctls show the namespaces of the task that opens
// them, so plain writes land in the pod's namespaces. Names and values arrive as arguments, never as script text.
const sysctlScript = `while [ $# -gt 0 ]; do
  if ! printf '%s\\n' "$2" > "/proc/sys/$1"; then echo "$1" >&2; exit ${sysctlFailed}; fi
  shift 2
done`;

/** The mount points in /proc/self/mountinfo (octal escapes such as \\040 decoded). */
async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points = new Set<string>();
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined) {
      points.add(field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
    }
  }
  return points;
}

/**
 * The path as mountinfo spells it: symlinks resolved (cri-o's default /var/run is a symlink to /run on Debian),
 * so mount checks compare like with like. A missing parent leaves the path as it is.
 */
async function canonical(path: string): Promise<string> {
  return join(await realpath(dirname(path)).catch(() => dirname(path)), basename(path));
}

/** Unmounts every layer mounted on path (a retry may have stacked two), then removes the file. */
async function unpinFile(given: string, signal: AbortSignal): Promise<void> {
  const path = await canonical(given);
  for (let i = 0; i < 16 && (await mountPoints()).has(path); i++) {
    const { code, stderr } = await run(['umount', path], signal, commandTimeoutMs);
    if (code !== 0 && (await mountPoints()).has(path)) {
      throw internal(`cannot unmount namespace file ${path}: ${stderr.trim()}`);
    }
  }
  // Unlinking also detaches copies of the bind mount that other mount namespaces made meanwhile (Linux 3.18+),
  // so a foreign private mount namespace cannot keep the pod's namespace alive.
  await rm(path, { force: true });
}

/** Removes the per-sandbox directory once it is empty; anything else in it is someone else's. */
async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
}

/**
 * Creates new namespaces and pins each as a bind-mounted file under dir (dir/net, dir/ipc, dir/uts) via util-linux
 * unshare; applies sysctls inside them (net.* in the net ns; kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* in
 * the ipc ns) before returning. On any failure, undoes what it did.
 */
export async function pinNamespaces(
  dir: string,
  kinds: PinnableNamespace[],
  sysctls: Record<string, string>,
  signal: AbortSignal,
): Promise<PinnedNamespaces> {
  const wanted = pinnable.filter((k) => kinds.includes(k));
  // The type says so already; untyped callers (JSON-derived config) get a clear error instead of a silent skip.
  for (const k of kinds) if (!pinnable.includes(k)) throw invalidArgument(`cannot pin a ${k} namespace`);
  validateSysctls(sysctls, wanted);
  if (wanted.length === 0) return {};
  throwIfAborted(signal);

  const pinned: PinnedNamespaces = {};
  const created: string[] = [];
  // Undo never uses the request's signal: a cancelled request must still leave nothing behind.
  const undo = async (): Promise<void> => {
    const cleanup = AbortSignal.timeout(commandTimeoutMs * 2);
    for (const file of created) await unpinFile(file, cleanup).catch(() => undefined);
    await removeIfEmpty(dir).catch(() => undefined);
  };
  try {
    await mkdir(dir, { recursive: true, mode: 0o711 });
    for (const kind of wanted) {
      const file = await canonical(join(dir, kind));
      try {
        // unshare bind-mounts onto an existing file; 'wx' so we never stack onto a pin we did not make.
        await writeFile(file, '', { flag: 'wx', mode: 0o444 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`namespace file ${file} exists`);
        throw err;
      }
      created.push(file);
      pinned[kind] = file;
    }
    const argv = [
      'unshare',
      ...wanted.map((k) => `--${k}=${pinned[k] ?? ''}`),
      '--',
      'sh',
      '-c',
      sysctlScript,
      'sh',
    ];
    for (const [name, value] of Object.entries(sysctls)) argv.push(sysctlPath(name), value);
    const { code, stderr } = await run(argv, signal, commandTimeoutMs);
    if (code === sysctlFailed) {
      const lines = stderr.trim().split('\n');
      const path = lines.pop() ?? '';
      const name = Object.keys(sysctls).find((n) => sysctlPath(n) === path) ?? path;
      throw invalidArgument(
        `sysctl ${name}=${sysctls[name] ?? ''} cannot be set in the pod's ${sysctlNamespace(name) ?? ''} namespace ` +
          `(${dir}): ${lines.join(' ').trim() || 'write failed'}`,
      );
    }
    if (code !== 0) throw internal(`cannot create namespaces under ${dir}: ${stderr.trim() || `exit ${code}`}`);
    const mounted = await mountPoints();
    for (const file of created) {
      if (!mounted.has(file)) throw internal(`namespace file ${file} is not mounted after unshare`);
    }
    throwIfAborted(signal);
    return pinned;
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Unmounts and removes the files (and their directory once empty); idempotent. */
export async function unpinNamespaces(pinned: PinnedNamespaces): Promise<void> {
  const files = pinnable.map((k) => pinned[k]).filter((f): f is string => f !== undefined);
  const signal = AbortSignal.timeout(commandTimeoutMs * 2);
  for (const file of files) await unpinFile(file, signal);
  for (const dir of new Set(files.map((f) => dirname(f)))) await removeIfEmpty(dir);
}

/**
 * Runs a command inside the given namespaces with nsenter (sysctls, port-forward helpers, network stats). A
 * non-zero exit is a result, not an error; a missing namespace file is notFound.
 */
export async function runInNamespaces(
  ns: { net?: string; ipc?: string; uts?: string },
  command: string[],
  signal: AbortSignal,
): Promise<{ stdout: string; stderr: string; code: number }> {
  if (command.length === 0) throw invalidArgument('empty command for nsenter');
  const args: string[] = [];
  for (const kind of pinnable) {
    const file = ns[kind];
    if (file === undefined) continue;
    try {
      await stat(file);
    } catch {
      throw notFound(`${kind} namespace file ${file} does not exist`);
    }
    args.push(`--${kind}=${file}`);
  }
  if (args.length === 0) throw invalidArgument('no namespace given to run a command in');
  // The caller's signal bounds the command; the day-long ceiling only guards against a forgotten signal.
  return run(['nsenter', ...args, '--', ...command], signal, 24 * 3600_000);
}
