import { join } from 'node:path';
import type { RuntimeInvocation } from './runtime-command.js';
import type { ContainerCreateOptions } from './runtime-types.js';

export interface ConmonArgsInput {
  opts: ContainerCreateOptions;
  runtime: RuntimeInvocation;
  /** `--root=<runtime_root>` and the handler's runtime_args, in that order: the runtime's global options. */
  runtimeGlobalArgs: string[];
  systemd: boolean;
  /** conmon's own log level (error, warn, info, debug, trace). */
  logLevel: string;
}

/** Where conmon writes its own pid (the long-lived, double-forked one). */
export const conmonPidFile = (bundle: string): string => join(bundle, 'conmon-pidfile');
/** Where the runtime writes the container's init pid. */
export const containerPidFile = (bundle: string): string => join(bundle, 'pidfile');

/**
 * conmon's arguments for `runtime create`, as cri-o passes them (internal/oci/runtime_oci.go CreateContainer).
 * No `--api-version`: for create, version 1 only renames the sync message's key from "pid" to "data"
 * (conmon src/parent_pipe_fd.c); cri-o reads "pid" and so do we (either is accepted).
 * `-s` makes conmon add `--systemd-cgroup` to `runtime create` (its only effect in conmon 2.1); other runtime
 * commands get it from us.
 */
export function conmonArgs(input: ConmonArgsInput): string[] {
  const { opts } = input;
  const args = [
    '-b',
    opts.bundle,
    '-c',
    opts.id,
    '--exit-dir',
    opts.exitDir,
    '-l',
    `k8s-file:${opts.logPath}`,
    '--log-level',
    input.logLevel,
    '-n',
    opts.name,
    '-P',
    conmonPidFile(opts.bundle),
    '-p',
    containerPidFile(opts.bundle),
    '--persist-dir',
    opts.persistDir,
    '-r',
    input.runtime.file,
  ];
  // conmon puts `--systemd-cgroup` (its -s) right after the runtime path: behind a wrapper that would land among
  // the wrapper's own options, so a wrapped runtime gets it as a runtime arg after the prefix instead.
  const wrapped = input.runtime.prefix.length > 0;
  const runtimeArgs = [
    ...input.runtime.prefix,
    ...(input.systemd && wrapped ? ['--systemd-cgroup'] : []),
    ...input.runtimeGlobalArgs,
  ];
  for (const arg of runtimeArgs) args.push('--runtime-arg', arg);
  args.push('--socket-dir-path', opts.socketDir, '--syslog', '-u', opts.id);
  if (input.systemd && !wrapped) args.push('-s');
  if (opts.terminal) {
    args.push('-t');
  } else if (opts.stdin) {
    if (!opts.stdinOnce) args.push('--leave-stdin-open');
    args.push('-i');
  }
  return args;
}

/** pino's level names to conmon's (utils.c set_conmon_logs refuses anything else). */
export function conmonLogLevel(pinoLevel: string): string {
  switch (pinoLevel) {
    case 'trace':
    case 'debug':
    case 'info':
    case 'warn':
      return pinoLevel;
    default:
      return 'error';
  }
}
