import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { internal } from '../errors/errors.js';

/**
 * Typed access to the C addon native/fsops.c (built by scripts/build-native.sh into dist/native/fsops.node):
 * the filesystem calls Node lacks, needed to unpack image layers. Every call is synchronous and never follows a
 * final symlink; a failure throws an Error shaped like Node's fs errors, with `code` set to the errno name
 * ('EPERM', 'ENOENT', …).
 */
interface FsOpsAddon {
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Uint8Array): void;
  lgetxattr(path: string, name: string): Buffer | undefined;
}

/** File type bits for mknod's mode (from <sys/stat.h>); OR one with the permission bits. */
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

// This file compiles to dist/src/native/fsops.js; the addon sits at dist/native/fsops.node.
const addonPath = fileURLToPath(new URL('../../native/fsops.node', import.meta.url));
let addon: FsOpsAddon | undefined;

// Loaded on first use, so processes and tests that never unpack a layer do not need the addon built.
function load(): FsOpsAddon {
  if (addon !== undefined) return addon;
  try {
    addon = createRequire(import.meta.url)(addonPath) as FsOpsAddon;
  } catch (err) {
    throw internal(`native addon ${addonPath} cannot be loaded (build it with scripts/build-native.sh)`, err);
  }
  return addon;
}

/** mknod(2): a character or block device (mode S_IFCHR/S_IFBLK | perms), or a fifo (S_IFIFO | perms). */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  load().mknod(path, mode, major, minor);
}

/** lsetxattr(2) with no flags: creates or replaces the attribute on the path itself, never a symlink's target. */
export function lsetxattr(path: string, name: string, value: Uint8Array): void {
  load().lsetxattr(path, name, value);
}

/** lgetxattr(2): the attribute's value, or undefined when the path has no such attribute (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  return load().lgetxattr(path, name);
}
