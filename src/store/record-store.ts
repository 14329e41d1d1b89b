import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { writeFileAtomic } from './atomic-file.js';
import { fromJson, toJson } from './json.js';

/** What every stored object has: an id, a unique name, and its own directory. */
export interface StoredRecord {
  id: string;
  name: string;
  dir: string;
}

/**
 * Records of one kind (sandboxes, containers): `<dir>/<id>/<file>` each, replaced atomically, bigints kept; the
 * in-memory index changes only after the file write succeeded. A record that cannot be read at start-up is
 * reported and left in place for an operator, never deleted.
 */
export class RecordStore<T extends StoredRecord> {
  private readonly records = new Map<string, T>();

  constructor(
    readonly dir: string,
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const id of await readdir(this.dir)) {
      const path = join(this.dir, id, this.file);
      try {
        const record = fromJson(await readFile(path, 'utf8')) as T;
        this.records.set(record.id, record);
      } catch (err) {
        this.log.error({ err, file: path }, 'Cannot read a stored record; leaving it in place');
      }
    }
  }

  list(): T[] {
    return [...this.records.values()];
  }

  get(id: string): T | undefined {
    return this.records.get(id);
  }

  byName(name: string): T | undefined {
    for (const r of this.records.values()) if (r.name === name) return r;
    return undefined;
  }

  /** Records whose id starts with `prefix` (crictl passes truncated ids). */
  byPrefix(prefix: string): T[] {
    return this.list().filter((r) => r.id.startsWith(prefix));
  }

  async save(record: T): Promise<void> {
    await mkdir(record.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(record.dir, this.file), toJson(record));
    this.records.set(record.id, record);
  }

  async delete(record: T): Promise<void> {
    await rm(record.dir, { recursive: true, force: true });
    this.records.delete(record.id);
  }
}
