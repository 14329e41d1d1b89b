import { mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { failedPrecondition, internal, invalidArgument, throwIfAborted } from '../errors/errors.js';
import { mountCount } from './mountinfo.js';
import { runCommand, runtimeErrorText } from './runtime-command.js';

export interface RootfsMountOptions {
  /** Writable layer of the container; needs workDir on the same filesystem. */
  upperDir?: string;
  workDir?: string;
  /** Mount read-only. Without an upper dir the rootfs is always read-only: the layers are shared by every user. */
  readonly: boolean;
}

const mountTimeoutMs = 60_000;
/** The kernel copies mount options into one page; leave room for the other options. */
const maxOptionBytes = 3900;

function checkDir(dir: string, what: string): void {
  // ',' separates overlay options and ':' separates lower dirs; overlay has escapes for them, util-linux's
  // option parsing does not agree with them everywhere, so such paths are refused instead.
  if (!isAbsolute(dir) || /[,:\n]/.test(dir))
    throw invalidArgument(`unusable ${what} path ${JSON.stringify(dir)}`);
}

/** The deepest directory containing every path, so overlay options can name them relative to it. */
function commonDir(paths: string[]): string {
  const split = paths.map((p) => p.split(sep));
  const first = split[0] ?? [];
  let n = 0;
  while (n < first.length - 1 && split.every((parts) => parts.length > n + 1 && parts[n] === first[n])) n++;
  return first.slice(0, n).join(sep) || sep;
}

function overlayOptions(lowerTopFirst: string[], opts: RootfsMountOptions, base?: string): string {
  const name = (p: string): string => (base === undefined ? p : relative(base, p));
  const parts = [`lowerdir=${lowerTopFirst.map(name).join(':')}`];
  if (opts.upperDir !== undefined && opts.workDir !== undefined) {
    parts.push(`upperdir=${name(opts.upperDir)}`, `workdir=${name(opts.workDir)}`);
    if (opts.readonly) parts.push('ro');
  }
  return parts.join(',');
}

/**
 * Mounts an image's layers at `target` (which must exist and not be a mount point yet) with util-linux mount,
 * as Node cannot call mount(2).
 *
 * `lowerDirs` is in the image manifest's order: base layer first, top layer last (the order of
 * ImageService.layerPaths); overlay's lowerdir wants the reverse, which happens here.
 *
 * - upper dir given: overlay of all layers plus the writable upper dir;
 * - no upper dir, two or more layers: a read-only overlay of the layers;
 * - no upper dir, one layer: overlay refuses a single lower dir without an upper one, so the layer is
 *   bind-mounted read-only instead.
 *
 * Many layers can make the option string exceed the page the kernel accepts; the layers are then named relative
 * to their common parent directory, with mount run there (containerd does the same).
 */
export async function mountImageRootfs(
  lowerDirs: string[],
  target: string,
  options: RootfsMountOptions,
  signal: AbortSignal,
): Promise<void> {
  if (lowerDirs.length === 0) throw invalidArgument(`no image layers to mount at ${target}`);
  for (const dir of lowerDirs) checkDir(dir, 'layer');
  checkDir(target, 'rootfs');
  if ((options.upperDir === undefined) !== (options.workDir === undefined)) {
    throw invalidArgument(`rootfs ${target}: an upper dir needs a work dir and the other way round`);
  }
  if (options.upperDir !== undefined && options.workDir !== undefined) {
    checkDir(options.upperDir, 'upper dir');
    checkDir(options.workDir, 'work dir');
    await mkdir(options.upperDir, { recursive: true, mode: 0o755 });
    await mkdir(options.workDir, { recursive: true, mode: 0o700 });
  }
  throwIfAborted(signal);
  const resolved = await realpath(target);
  if ((await mountCount(resolved)) > 0) throw failedPrecondition(`rootfs ${target} is already mounted`);

  let args: string[];
  let cwd: string | undefined;
  const single = lowerDirs[0];
  if (options.upperDir === undefined && lowerDirs.length === 1 && single !== undefined) {
    // util-linux applies options given with --bind in a second, remounting step, so this is a read-only bind.
    args = ['--bind', '-o', 'ro', single, target];
  } else {
    const topFirst = [...lowerDirs].reverse();
    let data = overlayOptions(topFirst, options);
    if (data.length > maxOptionBytes) {
      const all = [
        ...lowerDirs,
        ...(options.upperDir === undefined ? [] : [options.upperDir]),
        ...(options.workDir === undefined ? [] : [options.workDir]),
      ];
      cwd = commonDir(all);
      data = overlayOptions(topFirst, options, cwd);
      if (data.length > maxOptionBytes) {
        throw invalidArgument(
          `rootfs ${target}: ${String(lowerDirs.length)} layers do not fit into overlay's mount options`,
        );
      }
    }
    args = ['-t', 'overlay', 'overlay', '-o', data, target];
  }
  const result = await runCommand('mount', args, {
    timeoutMs: mountTimeoutMs,
    signal,
    ...(cwd === undefined ? {} : { cwd }),
  });
  if (result.code !== 0) throw internal(`cannot mount the rootfs at ${target}: ${runtimeErrorText(result)}`);
}

/**
 * Unmounts whatever is mounted at `target` (stacked mounts too). Idempotent: a missing path or a path that is not
 * a mount point is fine. When the mount is busy (a process still uses it) it is detached lazily, as
 * containers/storage does: it disappears from the tree now and is released when its last user goes.
 */
export async function unmountRootfs(target: string, signal?: AbortSignal): Promise<void> {
  let resolved: string;
  try {
    resolved = await realpath(target);
  } catch {
    return;
  }
  for (let i = 0; i < 16; i++) {
    if ((await mountCount(resolved)) === 0) return;
    const opts = { timeoutMs: mountTimeoutMs, ...(signal === undefined ? {} : { signal }) };
    const result = await runCommand('umount', [resolved], opts);
    if (result.code === 0) continue;
    if ((await mountCount(resolved)) === 0) return;
    const lazy = await runCommand('umount', ['--lazy', resolved], opts);
    if (lazy.code !== 0 && (await mountCount(resolved)) > 0) {
      throw internal(`cannot unmount the rootfs at ${target}: ${runtimeErrorText(lazy)}`);
    }
  }
  if ((await mountCount(resolved)) > 0) throw internal(`rootfs ${target} is still mounted after 16 unmounts`);
}
