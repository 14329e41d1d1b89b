import { readFile } from 'node:fs/promises';
import { failedPrecondition } from '../errors/errors.js';
import { writeFileAtomic } from '../store/atomic-file.js';

export interface LayerRecord {
  /** Digest of the blob as the registry serves it (compressed). */
  digest: string;
  /** Digest of the uncompressed tar: names the unpacked layer directory. */
  diffId: string;
  size: number;
  mediaType: string;
}

export interface ImageRecord {
  /** The config digest: what CRI calls the image id and image_ref. */
  id: string;
  /** Normalised "domain/path:tag" names, unique across images. */
  repoTags: string[];
  /** "domain/path@sha256:…" of the manifest each repository served. */
  repoDigests: string[];
  manifestDigest: string;
  manifestMediaType: string;
  layers: LayerRecord[];
  /** Bytes of content (config plus compressed layers), as containerd reports it. */
  size: number;
  /** The image config's User. */
  user: string;
  pinned: boolean;
  pulledAt: string;
  annotations: Record<string, string>;
}

interface StoreFile {
  version: 1;
  images: ImageRecord[];
}

/**
 * The image records: an in-memory index over one JSON file replaced atomically on every change. Changes are
 * serialised and applied to memory only after the file write succeeded, so memory never claims what the disk
 * does not hold.
 */
export class ImageStore {
  private images = new Map<string, ImageRecord>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: string) {}

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let doc: StoreFile;
    try {
      doc = JSON.parse(text) as StoreFile;
    } catch {
      throw failedPrecondition(
        `image store ${this.file} is corrupt (not JSON); it is never written partially, so it was changed by hand`,
      );
    }
    this.images = new Map(doc.images.map((i) => [i.id, i]));
  }

  list(): ImageRecord[] {
    return [...this.images.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  byTag(tag: string): ImageRecord | undefined {
    for (const image of this.images.values()) if (image.repoTags.includes(tag)) return image;
    return undefined;
  }

  byRepoDigest(repoDigest: string): ImageRecord | undefined {
    for (const image of this.images.values()) if (image.repoDigests.includes(repoDigest)) return image;
    return undefined;
  }

  /** Ids starting with `prefix` ("sha256:" optional). */
  byIdPrefix(prefix: string): ImageRecord[] {
    const full = prefix.startsWith('sha256:') ? prefix : `sha256:${prefix}`;
    return this.list().filter((i) => i.id.startsWith(full));
  }

  /**
   * Records a pulled image: a known id gains the new names, a new id is added; a tag that pointed at another
   * image moves (tags are unique). Returns the stored record.
   */
  save(image: ImageRecord): Promise<ImageRecord> {
    return this.change((next) => {
      for (const [id, other] of next) {
        if (id === image.id) continue;
        const repoTags = other.repoTags.filter((t) => !image.repoTags.includes(t));
        if (repoTags.length !== other.repoTags.length) next.set(id, { ...other, repoTags });
      }
      const existing = next.get(image.id);
      const merged: ImageRecord =
        existing === undefined
          ? image
          : {
              ...existing,
              repoTags: union(existing.repoTags, image.repoTags),
              repoDigests: union(existing.repoDigests, image.repoDigests),
              pinned: existing.pinned || image.pinned,
              annotations: { ...existing.annotations, ...image.annotations },
            };
      next.set(image.id, merged);
      return merged;
    });
  }

  /** Forgets an image with all its names; false when it was not there. */
  remove(id: string): Promise<boolean> {
    return this.change((next) => next.delete(id));
  }

  private change<T>(mutate: (next: Map<string, ImageRecord>) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const next = new Map(this.images);
      const result = mutate(next);
      const doc: StoreFile = { version: 1, images: [...next.values()] };
      await writeFileAtomic(this.file, JSON.stringify(doc));
      this.images = next;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}
