import { readFile } from 'node:fs/promises';
import { unescapeMountPath } from '../oci/mountinfo.js';

/** A mount's propagation type as mountinfo's optional fields tell it (shared:N, master:N; neither: private). */
export type Propagation = 'shared' | 'slave' | 'private';

export interface MountinfoEntry {
  mountPoint: string;
  propagation: Propagation;
}

/** The mounts of a mountinfo text, in mount order (a later mount on the same point hides the earlier ones). */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    const mountPoint = fields[4];
    if (sep < 6 || mountPoint === undefined) continue;
    const optional = fields.slice(6, sep);
    // A mount that is both (shared:N master:M) propagates both ways: shared is what matters.
    const propagation: Propagation = optional.some((f) => f.startsWith('shared:'))
      ? 'shared'
      : optional.some((f) => f.startsWith('master:'))
        ? 'slave'
        : 'private';
    out.push({ mountPoint: unescapeMountPath(mountPoint), propagation });
  }
  return out;
}

const within = (path: string, mountPoint: string): boolean =>
  mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);

/** The mount holding `path` (absolute, symlinks resolved): the deepest mount point above it, the top one of a stack. */
export function mountHolding(entries: readonly MountinfoEntry[], path: string): MountinfoEntry | undefined {
  let best: MountinfoEntry | undefined;
  for (const e of entries) {
    if (!within(path, e.mountPoint)) continue;
    if (best === undefined || e.mountPoint.length >= best.mountPoint.length) best = e;
  }
  return best;
}

/** The propagation of the host mount that holds `path`, from this process's mountinfo. */
export async function sourcePropagation(
  path: string,
  mountinfoPath = '/proc/self/mountinfo',
): Promise<Propagation> {
  return mountHolding(parseMountinfo(await readFile(mountinfoPath, 'utf8')), path)?.propagation ?? 'private';
}
