import { readFile } from 'node:fs/promises';

/** mountinfo escapes space, tab, newline and backslash in paths as octal (\040 …). */
export function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** The mount points listed in a /proc/<pid>/mountinfo text (field 5), unescaped, in mount order. */
export function mountPoints(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined) out.push(unescapeMountPath(field));
  }
  return out;
}

/** How many mounts are stacked on `path` in this process's mount namespace (0: not a mount point). */
export async function mountCount(path: string, mountinfoPath = '/proc/self/mountinfo'): Promise<number> {
  return mountPoints(await readFile(mountinfoPath, 'utf8')).filter((p) => p === path).length;
}
