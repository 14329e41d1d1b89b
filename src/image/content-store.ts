import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { failedPrecondition, invalidArgument, throwIfAborted } from '../errors/errors.js';
import { syncDir } from '../store/atomic-file.js';
import { SharedOperations } from './shared-operations.js';

const digestPattern = /^sha256:([a-f0-9]{64})$/;

/** The hex part of a sha256 digest; anything else is refused before it can become a path. */
export function digestHex(digest: string): string {
  const m = digestPattern.exec(digest);
  if (m?.[1] === undefined) throw invalidArgument(`unsupported digest ${JSON.stringify(digest)}`);
  return m[1];
}

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface IngestProgress {
  bytes: number;
}

/**
 * Blobs by digest under `<dir>/blobs/sha256/<hex>`. A blob is written into `<dir>/ingest` while it is hashed,
 * checked against its digest and size, fsynced and only then renamed into place, so nothing partial or wrong is
 * ever visible under a digest. One download per blob, however many pulls want it.
 */
export class ContentStore {
  private readonly blobsDir: string;
  private readonly ingestDir: string;
  private readonly downloads = new SharedOperations<void>();

  constructor(dir: string) {
    this.blobsDir = join(dir, 'blobs', 'sha256');
    this.ingestDir = join(dir, 'ingest');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true, mode: 0o700 });
    // Leftovers of downloads interrupted by a crash: never referenced, safe to drop.
    await rm(this.ingestDir, { recursive: true, force: true });
    await mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async read(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  /** Stores bytes already in memory (manifests, configs) after checking them against their digest. */
  async put(digest: string, data: Uint8Array): Promise<void> {
    const hex = digestHex(digest);
    if (sha256Digest(data) !== digest) throw failedPrecondition(`content does not match digest ${digest}`);
    if (await this.has(digest)) return;
    const tmp = join(this.ingestDir, `${hex}.${randomBytes(6).toString('hex')}`);
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.commit(tmp, digest);
  }

  /**
   * Makes sure the blob is stored, downloading it with `fetch` when it is not. `size` < 0 means unknown.
   * Concurrent callers for one digest share one download.
   */
  ensure(
    digest: string,
    size: number,
    fetch: (signal: AbortSignal) => Promise<Readable>,
    signal: AbortSignal,
    onProgress?: (p: IngestProgress) => void,
  ): Promise<void> {
    digestHex(digest);
    return this.downloads.run(digest, signal, async (shared) => {
      if (await this.has(digest)) return;
      await this.download(digest, size, await fetch(shared), shared, onProgress);
    });
  }

  private async download(
    digest: string,
    size: number,
    body: Readable,
    signal: AbortSignal,
    onProgress?: (p: IngestProgress) => void,
  ): Promise<void> {
    const tmp = join(this.ingestDir, `${digestHex(digest)}.${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        if (size >= 0 && bytes > size) {
          done(failedPrecondition(`blob ${digest} is larger than its declared ${String(size)} bytes`));
          return;
        }
        onProgress?.({ bytes });
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(tmp, { mode: 0o600, highWaterMark: 1 << 20 }), { signal });
      if (size >= 0 && bytes !== size) {
        throw failedPrecondition(`blob ${digest} has ${String(bytes)} bytes, expected ${String(size)}`);
      }
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== digest) throw failedPrecondition(`blob ${digest} arrived with digest ${got}`);
      throwIfAborted(signal);
      const handle = await open(tmp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.commit(tmp, digest);
    } catch (err) {
      await rm(tmp, { force: true });
      if (signal.aborted) throwIfAborted(signal);
      throw err;
    }
  }

  private async commit(tmp: string, digest: string): Promise<void> {
    await rename(tmp, this.blobPath(digest));
    await syncDir(this.blobsDir);
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.blobPath(digest))).size;
  }

  /** Every stored digest (for garbage collection). */
  async list(): Promise<string[]> {
    const names = await readdir(this.blobsDir);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  async delete(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }
}
