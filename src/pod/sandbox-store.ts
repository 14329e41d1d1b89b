import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic-file.js';
import { fromJson, toJson } from '../store/json.js';
import type { Logger } from '../log/logger.js';
import type { SandboxRecord } from './sandbox.js';

/**
 * Sandbox records: one `sandbox.json` per sandbox, replaced atomically; the in-memory index changes only after
 * the file write succeeded. Records that cannot be read at start-up are reported and skipped, never deleted,
 * so an operator can look at them.
 */
export class SandboxStore {
  private readonly sandboxes = new Map<string, SandboxRecord>();

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const id of await readdir(this.dir)) {
      const file = join(this.dir, id, 'sandbox.json');
      try {
        const record = fromJson(await readFile(file, 'utf8')) as SandboxRecord;
        this.sandboxes.set(record.id, record);
      } catch (err) {
        this.log.error({ err, file }, 'Cannot read sandbox record; leaving it in place');
      }
    }
  }

  list(): SandboxRecord[] {
    return [...this.sandboxes.values()];
  }

  get(id: string): SandboxRecord | undefined {
    return this.sandboxes.get(id);
  }

  byName(name: string): SandboxRecord | undefined {
    for (const s of this.sandboxes.values()) if (s.name === name) return s;
    return undefined;
  }

  /** Sandboxes whose id starts with `prefix` (crictl passes truncated ids). */
  byPrefix(prefix: string): SandboxRecord[] {
    return this.list().filter((s) => s.id.startsWith(prefix));
  }

  async save(record: SandboxRecord): Promise<void> {
    await mkdir(record.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(record.dir, 'sandbox.json'), toJson(record));
    this.sandboxes.set(record.id, record);
  }

  async delete(record: SandboxRecord): Promise<void> {
    await rm(record.dir, { recursive: true, force: true });
    this.sandboxes.delete(record.id);
  }
}
