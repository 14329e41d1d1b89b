import { readdir, readFile, readlink } from 'node:fs/promises';
import { throwIfAborted } from '../errors/errors.js';

/** What /proc says about a container's processes (the pids its cgroup lists, in the host's pid namespace). */
export interface ProcessSnapshot {
  processes: number;
  threads: number;
  fileDescriptors: number;
  sockets: number;
  /** Soft RLIMIT_NOFILE of the main process; undefined when unlimited or the process is gone. */
  maxOpenFilesSoft?: bigint;
}

/** cgroup.procs: one pid per line. */
export function parsePids(text: string | undefined): number[] {
  return (text ?? '')
    .split('\n')
    .filter((l) => /^\d+$/.test(l.trim()))
    .map(Number);
}

/** The soft limit of "Max open files" in a /proc/<pid>/limits text. */
export function parseSoftOpenFiles(limits: string): bigint | undefined {
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  return soft !== undefined && /^\d+$/.test(soft) ? BigInt(soft) : undefined;
}

const threadsOf = (status: string): number => Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? '1');

/**
 * Counts processes, threads, descriptors and sockets of `pids`. A process may exit while we look: whatever
 * vanished simply stops counting, as it would a moment later anyway.
 */
export async function processSnapshot(
  pids: number[],
  mainPid: number,
  signal: AbortSignal,
): Promise<ProcessSnapshot> {
  let processes = 0;
  let threads = 0;
  let fileDescriptors = 0;
  let sockets = 0;
  for (const pid of pids) {
    throwIfAborted(signal);
    const status = await readFile(`/proc/${String(pid)}/status`, 'utf8').catch(() => undefined);
    if (status === undefined) continue;
    processes += 1;
    threads += threadsOf(status);
    const fds = await readdir(`/proc/${String(pid)}/fd`).catch(() => [] as string[]);
    fileDescriptors += fds.length;
    for (const fd of fds) {
      const target = await readlink(`/proc/${String(pid)}/fd/${fd}`).catch(() => '');
      if (target.startsWith('socket:')) sockets += 1;
    }
  }
  const limits = mainPid > 0 ? await readFile(`/proc/${String(mainPid)}/limits`, 'utf8').catch(() => '') : '';
  const maxOpenFilesSoft = parseSoftOpenFiles(limits);
  return {
    processes,
    threads,
    fileDescriptors,
    sockets,
    ...(maxOpenFilesSoft === undefined ? {} : { maxOpenFilesSoft }),
  };
}
