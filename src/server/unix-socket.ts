import { connect } from 'node:net';
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failedPrecondition } from '../errors/errors.js';

/** "unix:///run/cri-ts/cri-ts.sock" or "/run/cri-ts/cri-ts.sock" → the path. */
export function socketPathOf(listen: string): string {
  return listen.startsWith('unix://') ? listen.slice('unix://'.length) : listen;
}

/** Whether a process accepts connections on the socket right now. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/**
 * Makes the socket path ready to bind: parent directories created, a stale socket left by a dead daemon
 * removed. A socket somebody still serves is never taken over, and a non-socket file is never deleted.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let stat;
  try {
    stat = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) throw failedPrecondition(`${path} exists and is not a socket; refusing to replace it`);
  if (await answers(path)) throw failedPrecondition(`another process is already serving ${path}`);
  await unlink(path);
}
