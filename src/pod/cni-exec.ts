import { access, constants, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { CriError, failedPrecondition, internal, isCriError, throwIfAborted } from '../errors/errors.js';
import { runBounded } from '../process/run-bounded.js';

/** The CNI commands cri-ts runs (SPEC.md, section 2). */
export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** The per-attachment parameters every plugin of a chain gets as CNI_* environment variables. */
export interface CniInvocation {
  command: CniCommand;
  containerId: string;
  /** Empty on a DEL whose namespace is gone, as the spec allows. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, joined as K=V;K=V. */
  args: readonly (readonly [string, string])[];
  pluginDirs: readonly string[];
}

const outputCap = 4 << 20;
// A plugin type names an executable in the plugin dirs, never a path.
const pluginType = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

/**
 * The executable for a plugin type: the first regular, executable file of that name in the plugin dirs, in order.
 * A missing plugin is a node-setup problem, hence failedPrecondition.
 */
export async function findPlugin(type: string, pluginDirs: readonly string[]): Promise<string> {
  if (!pluginType.test(type)) throw failedPrecondition(`invalid cni plugin type ${JSON.stringify(type)}`);
  for (const dir of pluginDirs) {
    const path = join(dir, type);
    try {
      if (!(await stat(path)).isFile()) continue;
      await access(path, constants.X_OK);
      return path;
    } catch {
      continue;
    }
  }
  throw failedPrecondition(`cni plugin ${type} not found in ${pluginDirs.join(', ') || '(no plugin dirs)'}`);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The error for a plugin's failure, from its CNI error JSON on stdout ({code, msg, details}) or, when it printed
 * none, its stderr. Transient codes (11 try again, 50/51 plugin not available) are Unavailable; version and
 * configuration codes (1, 2, 4, 6, 7) are the node's setup, FailedPrecondition; the rest Internal.
 */
export function pluginError(type: string, what: string, stdout: string, stderr: string, exit: string): CriError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    parsed = undefined;
  }
  let code: number | undefined;
  let text: string;
  if (isRecord(parsed) && (typeof parsed['msg'] === 'string' || typeof parsed['code'] === 'number')) {
    code = typeof parsed['code'] === 'number' ? parsed['code'] : undefined;
    const msg = typeof parsed['msg'] === 'string' ? parsed['msg'] : '';
    const details = typeof parsed['details'] === 'string' && parsed['details'] !== '' ? parsed['details'] : '';
    text = [msg, details].filter((s) => s !== '').join(': ') || `error code ${String(code)}`;
  } else {
    text = stderr.trim().split('\n').slice(-3).join(' ') || stdout.trim().slice(0, 500) || exit;
  }
  const message = `cni plugin ${type} failed (${what}): ${text}`;
  if (code === 11 || code === 50 || code === 51) return new CriError('Unavailable', message);
  if (code !== undefined && [1, 2, 4, 6, 7].includes(code)) return failedPrecondition(message);
  return internal(message);
}

/**
 * Runs one plugin as the spec's execution protocol says: parameters in the environment (on top of ours, so
 * plugins find iptables on PATH), the request config on stdin, a result or an error as JSON on stdout, logs on
 * stderr. Resolves with the parsed stdout (undefined when empty, as DEL may answer); rejects with pluginError, or
 * with the abort/deadline error after killing the plugin.
 */
export async function execPlugin(
  type: string,
  path: string,
  invocation: CniInvocation,
  request: Record<string, unknown>,
  options: { signal: AbortSignal; timeoutMs: number; log: Logger },
): Promise<unknown> {
  const { signal, timeoutMs, log } = options;
  throwIfAborted(signal);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CNI_COMMAND: invocation.command,
    CNI_CONTAINERID: invocation.containerId,
    CNI_NETNS: invocation.netns,
    CNI_IFNAME: invocation.ifName,
    CNI_ARGS: invocation.args.map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_PATH: invocation.pluginDirs.join(':'),
  };
  const what = `${invocation.command} of ${invocation.containerId}/${invocation.ifName}`;
  const started = Date.now();
  const logRun = (exit: string, stderr: string): void =>
    log.debug(
      {
        plugin: type,
        command: invocation.command,
        ms: Date.now() - started,
        exit: exit || 'exit 0',
        stderr: stderr.slice(0, 2000),
      },
      'Ran CNI plugin',
    );
  let result;
  try {
    result = await runBounded(path, [], {
      signal,
      timeoutMs,
      env,
      input: JSON.stringify(request),
      outputCap,
      name: `cni plugin ${path}`,
      timeoutMessage: `cni plugin ${type} did not finish ${what} within ${timeoutMs} ms`,
    });
  } catch (err) {
    if (isCriError(err) && (err.kind === 'DeadlineExceeded' || err.kind === 'Canceled')) logRun('killed', '');
    throw err;
  }
  const { stdout, stderr } = result;
  const exit =
    result.code === 0
      ? ''
      : result.code === null
        ? `killed by ${String(result.signal)}`
        : `exit ${String(result.code)}`;
  logRun(exit, stderr);
  if (exit !== '') throw pluginError(type, what, stdout, stderr, exit);
  if (stdout.trim() === '') return undefined;
  try {
    return JSON.parse(stdout) as unknown;
  } catch {
    throw internal(`cni plugin ${type} printed invalid JSON for ${what}: ${stdout.slice(0, 200)}`);
  }
}
