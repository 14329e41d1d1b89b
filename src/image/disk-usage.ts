import { lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../errors/errors.js';

export interface DiskUsage {
  /** Bytes allocated on disk (st_blocks × 512), the way du counts, so sparse files are not overstated. */
  bytes: bigint;
  inodes: bigint;
}

/**
 * Walks a directory tree without following symlinks, counting each inode once (hard links share one). The
 * kubelet's image GC and eviction act on these numbers, so they must reflect the disk, not apparent sizes.
 */
export async function diskUsage(root: string, signal: AbortSignal): Promise<DiskUsage> {
  const seen = new Set<bigint>();
  let bytes = 0n;
  let inodes = 0n;
  const stack = [root];
  while (stack.length > 0) {
    throwIfAborted(signal);
    const path = stack.pop();
    if (path === undefined) break;
    let st;
    try {
      st = await lstat(path, { bigint: true });
    } catch (err) {
      // Content may be removed while we walk (a concurrent RemoveImage): it simply no longer counts.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (seen.has(st.ino)) continue;
    seen.add(st.ino);
    inodes += 1n;
    bytes += st.blocks * 512n;
    if (st.isDirectory()) {
      for (const name of await readdir(path).catch(() => [])) stack.push(join(path, name));
    }
  }
  return { bytes, inodes };
}

/** The directory holding image content and unpacked layers, created on first use. */
export async function imageStoreDir(root: string): Promise<string> {
  const dir = join(root, 'images');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}
