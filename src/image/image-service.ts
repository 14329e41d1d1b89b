import { join } from 'node:path';
import { failedPrecondition, invalidArgument, isCriError, throwIfAborted } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';
import { ContentStore } from './content-store.js';
import { diskUsage, imageStoreDir, type DiskUsage } from './disk-usage.js';
import { pullFromSource, type PullObserver } from './image-pull.js';
import { ImageStore, type ImageRecord } from './image-store.js';
import { LayerStore } from './layer-store.js';
import { formatReference, parseReference, repositoryName, type ImageReference } from './reference.js';
import { credentialsFromFile, type RegistryCredentials } from './registry-auth.js';
import { loadRegistriesConf, pullSources, resolveShortNameAlias } from './registries-conf.js';
import { SharedOperations } from './shared-operations.js';

export interface ImageMetrics extends PullObserver {
  pullFinished(outcome: 'success' | 'failure' | 'canceled'): void;
  pullsInFlight(count: number): void;
}

export interface ImageServiceOptions {
  root: string;
  registriesConf: string;
  authFile: string;
  pauseImage: string;
  maxConcurrentDownloads: number;
  log: Logger;
  metrics: ImageMetrics;
}

export interface PullRequest {
  image: string;
  credentials: RegistryCredentials | undefined;
  annotations: Record<string, string>;
}

/**
 * The image half of the runtime: pulls (deduplicated per reference), the image records, lookups by every kind of
 * name, removal and garbage collection of content no image needs. Knows nothing of gRPC.
 */
export class ImageService {
  private readonly content: ContentStore;
  private readonly layers: LayerStore;
  private readonly store: ImageStore;
  private readonly pulls = new SharedOperations<ImageRecord>();
  private dir = '';
  /** Pulls holding content; garbage collection waits for none to run, and new pulls wait for it. */
  private activePulls = 0;
  private pullsIdle: (() => void)[] = [];
  private gcRunning: Promise<void> | undefined;
  private gcAgain = false;
  /** Containers using an image (wired by the container layer); such images are not removed. */
  isInUse: (imageId: string) => boolean = () => false;

  constructor(private readonly options: ImageServiceOptions) {
    const dir = join(options.root, 'images');
    this.content = new ContentStore(dir);
    this.layers = new LayerStore(dir);
    this.store = new ImageStore(join(dir, 'images.json'));
  }

  async init(): Promise<void> {
    this.dir = await imageStoreDir(this.options.root);
    await this.content.init();
    await this.layers.init();
    await this.store.load();
  }

  /** Parses a user's image name: registries.conf aliases first, then the usual normalisation. */
  async parseName(name: string): Promise<ImageReference> {
    const conf = await loadRegistriesConf(this.options.registriesConf);
    return parseReference(resolveShortNameAlias(conf, name));
  }

  /** Pulls an image; concurrent pulls of one reference share one operation. */
  async pull(request: PullRequest, signal: AbortSignal, log: Logger): Promise<ImageRecord> {
    if (request.image.trim() === '') throw invalidArgument('image name is empty');
    const ref = await this.parseName(request.image);
    const key = formatReference(ref);
    if (this.pulls.isRunning(key)) log.info({ image: key }, 'Joining a pull already in progress');
    return this.pulls.run(key, signal, (shared) => this.pullOnce(ref, request, shared, log));
  }

  private async pullOnce(
    ref: ImageReference,
    request: PullRequest,
    signal: AbortSignal,
    log: Logger,
  ): Promise<ImageRecord> {
    const { metrics } = this.options;
    while (this.gcRunning !== undefined) await this.gcRunning;
    this.activePulls += 1;
    metrics.pullsInFlight(this.activePulls);
    const image = formatReference(ref);
    const started = Date.now();
    try {
      const conf = await loadRegistriesConf(this.options.registriesConf);
      const sources = pullSources(conf, ref);
      let lastError: Error | undefined;
      for (const source of sources) {
        throwIfAborted(signal);
        const credentials =
          request.credentials ??
          (await credentialsFromFile(this.options.authFile, source.mirror ? source.endpoint : ref.domain));
        log.info(
          { image, endpoint: source.endpoint, repository: source.repository, mirror: source.mirror },
          'Pulling image',
        );
        try {
          const pulled = await pullFromSource(
            {
              content: this.content,
              layers: this.layers,
              maxConcurrentDownloads: this.options.maxConcurrentDownloads,
              observer: metrics,
              log: log.child({ image }),
              signal,
            },
            ref,
            source,
            credentials,
          );
          const record = await this.store.save({
            ...pulled,
            pinned: await this.isPauseImage(ref),
            annotations: request.annotations,
            pulledAt: new Date().toISOString(),
          });
          metrics.pullFinished('success');
          log.info({ image, id: record.id, seconds: (Date.now() - started) / 1000 }, 'Pulled image');
          return record;
        } catch (err) {
          throwIfAborted(signal);
          lastError = err instanceof Error ? err : new Error(String(err));
          log.warn({ image, endpoint: source.endpoint, error: (err as Error).message }, 'Pull from source failed');
        }
      }
      throw lastError ?? failedPrecondition(`no source to pull ${image} from`);
    } catch (err) {
      metrics.pullFinished(signal.aborted ? 'canceled' : 'failure');
      throw err;
    } finally {
      this.activePulls -= 1;
      metrics.pullsInFlight(this.activePulls);
      if (this.activePulls === 0) for (const wake of this.pullsIdle.splice(0)) wake();
    }
  }

  /** The pause image is pinned: kubelet's image GC must never remove it. */
  private async isPauseImage(ref: ImageReference): Promise<boolean> {
    try {
      return formatReference(await this.parseName(this.options.pauseImage)) === formatReference(ref);
    } catch {
      return false;
    }
  }

  /**
   * Finds an image by id ("sha256:…" or bare hex), unique id prefix, tag or digest reference. Names that are
   * not valid references and match nothing resolve to nothing (ImageStatus answers "no image", not an error).
   */
  async resolve(query: string): Promise<ImageRecord | undefined> {
    const q = query.trim();
    if (q === '') return undefined;
    const byId = this.store.get(q) ?? this.store.get(`sha256:${q}`);
    if (byId !== undefined) return byId;
    let ref: ImageReference | undefined;
    try {
      ref = await this.parseName(q);
    } catch (err) {
      if (!isCriError(err) || err.kind !== 'InvalidArgument') throw err;
    }
    if (ref !== undefined) {
      const repo = repositoryName(ref);
      const found =
        ref.digest !== undefined
          ? this.store.byRepoDigest(`${repo}@${ref.digest}`)
          : this.store.byTag(`${repo}:${ref.tag ?? 'latest'}`);
      if (found !== undefined) return found;
    }
    if (/^(sha256:)?[a-f0-9]{3,64}$/.test(q)) {
      const matches = this.store.byIdPrefix(q);
      if (matches.length === 1) return matches[0];
      if (matches.length > 1)
        throw invalidArgument(`image id prefix ${q} is ambiguous (${String(matches.length)} images)`);
    }
    return undefined;
  }

  list(): ImageRecord[] {
    return this.store.list();
  }

  /** The image config as stored (for verbose status and container creation). */
  async config(image: ImageRecord): Promise<Record<string, unknown>> {
    return JSON.parse((await this.content.read(image.id)).toString('utf8')) as Record<string, unknown>;
  }

  layerPaths(image: ImageRecord): string[] {
    return image.layers.map((l) => this.layers.diffPath(l.diffId));
  }

  /**
   * Removes an image with all its tags and digests; a missing image is not an error (CRI RemoveImage is
   * idempotent). Content goes in a garbage collection right after.
   */
  async remove(query: string, log: Logger): Promise<void> {
    const image = await this.resolve(query);
    if (image === undefined) return;
    if (this.isInUse(image.id)) {
      throw failedPrecondition(`image ${image.id} is in use by a container; remove the container first`);
    }
    if (await this.store.remove(image.id)) log.info({ id: image.id, tags: image.repoTags }, 'Removed image');
    this.collectGarbage(log);
  }

  /** Starts a garbage collection, or asks the running one to go again when it is done. */
  collectGarbage(log: Logger): void {
    if (this.gcRunning !== undefined) {
      this.gcAgain = true;
      return;
    }
    this.gcRunning = this.gc(log).finally(() => {
      this.gcRunning = undefined;
      if (this.gcAgain) {
        this.gcAgain = false;
        this.collectGarbage(log);
      }
    });
  }

  /** Resolves when the current garbage collection, if any, has finished (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.gcRunning !== undefined) await this.gcRunning;
  }

  private async gc(log: Logger): Promise<void> {
    // Wait for running pulls to finish: they hold content no image record names yet.
    while (this.activePulls > 0) await new Promise<void>((resolve) => this.pullsIdle.push(resolve));
    try {
      const images = this.store.list();
      const blobs = new Set<string>();
      const diffIds = new Set<string>();
      for (const image of images) {
        blobs.add(image.id);
        blobs.add(image.manifestDigest);
        for (const d of image.repoDigests) blobs.add(d.slice(d.indexOf('@') + 1));
        for (const l of image.layers) {
          blobs.add(l.digest);
          diffIds.add(l.diffId);
        }
      }
      let removed = 0;
      for (const digest of await this.content.list()) {
        if (!blobs.has(digest)) {
          await this.content.delete(digest);
          removed += 1;
        }
      }
      for (const diffId of await this.layers.list()) {
        if (!diffIds.has(diffId)) {
          await this.layers.delete(diffId);
          removed += 1;
        }
      }
      if (removed > 0) log.info({ removed }, 'Garbage-collected image content');
    } catch (err) {
      log.error({ err }, 'Image garbage collection failed');
    }
  }

  async usage(signal: AbortSignal): Promise<{ mountpoint: string; usage: DiskUsage }> {
    return { mountpoint: this.dir, usage: await diskUsage(this.dir, signal) };
  }
}
