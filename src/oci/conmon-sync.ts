import type { Readable } from 'node:stream';

/**
 * What conmon reports on its sync pipe (_OCI_SYNCPIPE) after `runtime create`: one JSON line,
 * `{"pid": N}` on success or `{"pid": -1, "message": "<runtime stderr>"}` on failure (`"data"` instead of `"pid"`
 * with `--api-version 1`). conmon writes nothing at all when the runtime failed silently (no stderr) or conmon
 * itself died: the pipe then just reaches EOF.
 */
export interface SyncMessage {
  pid: number;
  message?: string;
}

export function parseSyncMessage(line: string): SyncMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const pid = record.pid ?? record.data;
  if (typeof pid !== 'number' || !Number.isInteger(pid)) return undefined;
  const message = record.message;
  return typeof message === 'string' ? { pid, message } : { pid };
}

/**
 * Resolves with the first line conmon writes on the sync pipe, or undefined at EOF without one. conmon keeps its
 * end open for the container's lifetime, so the caller must destroy the stream once it has the line.
 */
export function readSyncLine(stream: Readable): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buffered = '';
    const finish = (line: string | undefined): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onEnd);
      resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl >= 0) finish(buffered.slice(0, nl));
      else if (buffered.length > 1 << 20) finish(buffered);
    };
    const onEnd = (): void => {
      finish(buffered.trim() === '' ? undefined : buffered);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', onEnd);
  });
}
