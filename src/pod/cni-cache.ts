import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { internal } from '../errors/errors.js';
import { syncDir, writeFileAtomic } from '../store/atomic-file.js';
import type { NetworkList } from './cni-netconf.js';

/**
 * Everything DEL needs, saved at ADD time like libcni's /var/lib/cni/results entries: the config actually used
 * (the conf dir may change before DEL), the attachment parameters and capability args, and the final result.
 */
export interface CniCacheEntry {
  kind: 'cri-ts/cni-attachment/v1';
  sandboxId: string;
  ifName: string;
  netns: string;
  /** The conf file the list came from, for the humans reading the cache. */
  file: string;
  list: NetworkList;
  cniArgs: [string, string][];
  capabilityArgs: Record<string, unknown>;
  /** null while ADD has not completed: DEL then runs without prevResult, as after a failed ADD. */
  result: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One file per sandbox, `<dir>/<sandboxId>.json`, written atomically. The entry is saved before the first ADD
 * and again with the result after the last, so a crash mid-ADD still leaves DEL the config it needs.
 */
export class CniCache {
  constructor(private readonly dir: string) {}

  private path(sandboxId: string): string {
    // Callers validate sandbox ids as CNI container ids: no separators, never "." or "..".
    return join(this.dir, `${sandboxId}.json`);
  }

  async read(sandboxId: string): Promise<CniCacheEntry | undefined> {
    let text: string;
    try {
      text = await readFile(this.path(sandboxId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = undefined;
    }
    if (!isRecord(doc) || doc['kind'] !== 'cri-ts/cni-attachment/v1' || !isRecord(doc['list'])) {
      throw internal(`cni cache entry ${this.path(sandboxId)} is unreadable`);
    }
    return doc as unknown as CniCacheEntry;
  }

  async write(entry: CniCacheEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path(entry.sandboxId), JSON.stringify(entry));
  }

  async remove(sandboxId: string): Promise<void> {
    await rm(this.path(sandboxId), { force: true });
    await syncDir(this.dir).catch(() => undefined);
  }
}
