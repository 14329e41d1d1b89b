import { readFileSync } from 'node:fs';
import { invalidArgument } from '../errors/errors.js';

/** The daemon's own oom_score_adj (-1000…1000). */
export function ownOomScoreAdj(path = '/proc/self/oom_score_adj'): number {
  const value = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  return Number.isInteger(value) ? value : 0;
}

/**
 * With `restrict` (config `runtime.restrict_oom_score_adj`), raises a requested oom_score_adj that is below the
 * daemon's own up to it; higher values pass unchanged. Lowering the score needs CAP_SYS_RESOURCE, which this
 * machine's bounding set lacks, so the pause container's usual -998 would make the runtime fail. `own` defaults
 * to /proc/self/oom_score_adj, read on each call (it can change while we run).
 */
export function clampOomScoreAdj(requested: number, restrict: boolean, own?: number): number {
  if (!Number.isInteger(requested) || requested < -1000 || requested > 1000) {
    throw invalidArgument(`oom_score_adj ${String(requested)} is outside -1000..1000`);
  }
  if (!restrict) return requested;
  return Math.max(requested, own ?? ownOomScoreAdj());
}
