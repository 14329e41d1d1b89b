import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError } from '../errors/errors.js';

/** The fields of /proc/<pid>/stat that tell whether a pid is still the process we mean. */
export interface ProcStat {
  /** R, S, D, Z, T, … (proc(5)); Z is a zombie: dead, only not reaped yet. */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Clock ticks after boot at which the process started; a reused pid has a different one. */
  startTime: string;
}

/** Parses one /proc/<pid>/stat line. The command name sits in parentheses and may itself hold spaces or ')'. */
export function parseProcStat(line: string): ProcStat | undefined {
  const close = line.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after the name start at field 3 (state); field N is rest[N - 3].
  const rest = line
    .slice(close + 2)
    .trim()
    .split(' ');
  const [state, ppid, pgrp, session] = rest;
  const startTime = rest[22 - 3];
  if (state === undefined || ppid === undefined || pgrp === undefined || session === undefined) return undefined;
  if (startTime === undefined) return undefined;
  return { state, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session), startTime };
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseProcStat(await readFile(`/proc/${String(pid)}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` still runs as the process that had `startTime` (from readProcStat). Gone, a zombie, or a different
 * process under a reused pid all count as not alive.
 */
export async function processAlive(pid: number, startTime: string): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === startTime;
}

/**
 * Polls until the process is gone or `timeoutMs` passed; resolves true when it is gone. Polling because Node has
 * no pidfd and the process is not our child (conmon reaps it). Rejects with the abort error when `signal` fires.
 */
export async function waitForProcessExit(
  pid: number,
  startTime: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let interval = 10;
  for (;;) {
    if (signal.aborted) throw abortError(signal);
    if (!(await processAlive(pid, startTime))) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    try {
      await sleep(Math.min(interval, left), undefined, { signal });
    } catch {
      throw abortError(signal);
    }
    interval = Math.min(interval * 2, 100);
  }
}
