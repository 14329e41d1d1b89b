import { failedPrecondition, throwIfAborted } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';
import type { ContentStore } from './content-store.js';
import type { ImageRecord, LayerRecord } from './image-store.js';
import type { LayerStore } from './layer-store.js';
import { hostPlatform, parseImageConfig, parseManifest, selectPlatform, type Descriptor } from './manifest.js';
import { formatReference, repositoryName, type ImageReference } from './reference.js';
import type { RegistryCredentials } from './registry-auth.js';
import { RegistryClient } from './registry-client.js';
import type { PullSource } from './registries-conf.js';

/** What a pull reports as it goes, for metrics. */
export interface PullObserver {
  bytesDownloaded(bytes: number): void;
  layerDownloaded(seconds: number): void;
  layerUnpacked(seconds: number): void;
}

export interface PullContext {
  content: ContentStore;
  layers: LayerStore;
  maxConcurrentDownloads: number;
  observer: PullObserver;
  log: Logger;
  signal: AbortSignal;
}

/** How often a running layer download logs its progress, so a stuck pull is visible. */
const progressIntervalMs = 5000;

/** Runs `work` over `items` with at most `limit` at once, failing fast on the first error. */
async function boundedAll<T>(
  items: T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      const item = items[index];
      if (item !== undefined) await work(item, index);
    }
  });
  await Promise.all(lanes);
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/**
 * Pulls one image from one source: manifest (choosing linux/amd64 from an index), config, then every layer
 * downloaded into the content store and unpacked, in parallel lanes; returns the record to store.
 */
export async function pullFromSource(
  ctx: PullContext,
  ref: ImageReference,
  source: PullSource,
  credentials: RegistryCredentials | undefined,
): Promise<Omit<ImageRecord, 'pinned' | 'annotations' | 'pulledAt'>> {
  const { content, signal, log } = ctx;
  const client = new RegistryClient({ endpoint: source.endpoint, insecure: source.insecure }, credentials);
  const repo = source.repository;
  const where = `${formatReference(ref)} from ${source.endpoint}/${repo}`;

  const top = await client.getManifest(repo, ref.digest ?? ref.tag ?? 'latest', signal);
  let manifestBody = top.body;
  let manifestMediaType = top.mediaType;
  let manifestDigest = top.digest;
  let parsed = parseManifest(top.body, top.mediaType, where);
  await content.put(top.digest, top.body);
  if (parsed.kind === 'index') {
    const chosen = selectPlatform(parsed, hostPlatform, where);
    const platformManifest = await client.getManifest(repo, chosen.digest, signal);
    manifestBody = platformManifest.body;
    manifestMediaType = platformManifest.mediaType || chosen.mediaType;
    manifestDigest = platformManifest.digest;
    parsed = parseManifest(manifestBody, manifestMediaType, where);
    if (parsed.kind === 'index') throw failedPrecondition(`${where}: an index points at another index`);
    await content.put(manifestDigest, manifestBody);
  }
  const manifest = parsed;

  const fetchBlob = (d: Descriptor) => (s: AbortSignal) => client.getBlob(repo, d.digest, s);
  await content.ensure(manifest.config.digest, manifest.config.size, fetchBlob(manifest.config), signal);
  const config = parseImageConfig(await content.read(manifest.config.digest), where);
  if (config.diffIds.length !== manifest.layers.length) {
    throw failedPrecondition(
      `${where}: manifest has ${String(manifest.layers.length)} layers but the config lists ${String(config.diffIds.length)} diff_ids`,
    );
  }

  const layers: LayerRecord[] = manifest.layers.map((l, i) => ({
    digest: l.digest,
    diffId: config.diffIds[i] ?? '',
    size: l.size,
    mediaType: l.mediaType,
  }));
  await boundedAll(layers, ctx.maxConcurrentDownloads, async (layer) => {
    throwIfAborted(signal);
    const started = process.hrtime.bigint();
    let lastLog = Date.now();
    let lastBytes = 0;
    let counted = 0;
    await content.ensure(
      layer.digest,
      layer.size,
      (s) => client.getBlob(repo, layer.digest, s),
      signal,
      (p) => {
        ctx.observer.bytesDownloaded(p.bytes - counted);
        counted = p.bytes;
        const now = Date.now();
        if (now - lastLog >= progressIntervalMs) {
          const rate = (p.bytes - lastBytes) / ((now - lastLog) / 1000);
          log.info(
            { layer: layer.digest, bytes: p.bytes, total: layer.size, bytesPerSecond: Math.round(rate) },
            'Pulling layer',
          );
          lastLog = now;
          lastBytes = p.bytes;
        }
      },
    );
    if (counted > 0) ctx.observer.layerDownloaded(seconds(started));
    const unpackStarted = process.hrtime.bigint();
    const result = await ctx.layers.ensure(layer.diffId, content.blobPath(layer.digest), signal);
    if (result.unpacked) {
      ctx.observer.layerUnpacked(seconds(unpackStarted));
      log.debug({ layer: layer.digest, diffId: layer.diffId, bytes: result.size }, 'Unpacked layer');
    }
  });

  const repoName = repositoryName(ref);
  return {
    id: manifest.config.digest,
    repoTags: ref.tag === undefined ? [] : [`${repoName}:${ref.tag}`],
    repoDigests: [`${repoName}@${ref.digest ?? top.digest}`],
    manifestDigest,
    manifestMediaType,
    layers,
    size: manifest.config.size + layers.reduce((n, l) => n + l.size, 0),
    user: config.user,
  };
}
