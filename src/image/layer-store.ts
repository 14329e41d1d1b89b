import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors/errors.js';
import { syncDir } from '../store/atomic-file.js';
import { digestHex } from './content-store.js';
import { unpackLayer } from './layer-unpack.js';
import { SharedOperations } from './shared-operations.js';

/**
 * Unpacked layers, one directory per diff_id: `<dir>/sha256/<hex>/diff` is an overlayfs lower dir (whiteouts
 * already in overlay form). A layer is unpacked into a scratch directory and renamed into place only after its
 * diff_id was verified, so a present directory is always a complete, correct layer.
 */
export class LayerStore {
  private readonly layersDir: string;
  private readonly scratchDir: string;
  private readonly unpacks = new SharedOperations<void>();

  constructor(dir: string) {
    this.layersDir = join(dir, 'layers', 'sha256');
    this.scratchDir = join(dir, 'layers', 'scratch');
  }

  async init(): Promise<void> {
    await mkdir(this.layersDir, { recursive: true, mode: 0o700 });
    // Half-unpacked layers from a crash.
    await rm(this.scratchDir, { recursive: true, force: true });
    await mkdir(this.scratchDir, { recursive: true, mode: 0o700 });
  }

  /** The overlay lower dir of a layer. */
  diffPath(diffId: string): string {
    return join(this.layersDir, digestHex(diffId), 'diff');
  }

  async has(diffId: string): Promise<boolean> {
    try {
      await stat(this.diffPath(diffId));
      return true;
    } catch {
      return false;
    }
  }

  /** Unpacks the blob at `blobPath` as layer `diffId` unless it is there already; one unpack per layer. */
  ensure(diffId: string, blobPath: string, signal: AbortSignal): Promise<{ unpacked: boolean; size: number }> {
    const hex = digestHex(diffId);
    let outcome = { unpacked: false, size: 0 };
    return this.unpacks
      .run(diffId, signal, async (shared) => {
        if (await this.has(diffId)) return;
        const scratch = join(this.scratchDir, `${hex}.${randomBytes(6).toString('hex')}`);
        const diff = join(scratch, 'diff');
        await mkdir(diff, { recursive: true, mode: 0o755 });
        try {
          const result = await unpackLayer(createReadStream(blobPath, { highWaterMark: 1 << 20 }), diff, shared);
          if (result.diffId !== diffId) {
            throw failedPrecondition(
              `layer ${blobPath} unpacks to ${result.diffId}, but the image config says ${diffId}`,
            );
          }
          await rename(scratch, join(this.layersDir, hex)).catch(async (err: unknown) => {
            // Unpacked concurrently by an abandoned earlier attempt: the one in place is just as good.
            if (!(await this.has(diffId))) throw err;
          });
          await syncDir(this.layersDir);
          outcome = { unpacked: true, size: result.size };
        } finally {
          await rm(scratch, { recursive: true, force: true });
        }
      })
      .then(() => outcome);
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.layersDir);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  async delete(diffId: string): Promise<void> {
    await rm(join(this.layersDir, digestHex(diffId)), { recursive: true, force: true });
  }
}
