import { failedPrecondition, notFound } from '../errors/errors.js';

export const mediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** Indexes first: a registry that has one for a tag should send it, so we pick the platform ourselves. */
export const manifestAcceptTypes = [
  mediaTypes.ociIndex,
  mediaTypes.dockerList,
  mediaTypes.ociManifest,
  mediaTypes.dockerManifest,
];

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  kind: 'index';
  manifests: Descriptor[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isRecord(v) || typeof v['digest'] !== 'string' || typeof v['size'] !== 'number') {
    throw failedPrecondition(`${where}: malformed descriptor`);
  }
  const d: Descriptor = {
    mediaType: typeof v['mediaType'] === 'string' ? v['mediaType'] : '',
    digest: v['digest'],
    size: v['size'],
  };
  const p = v['platform'];
  if (isRecord(p) && typeof p['architecture'] === 'string' && typeof p['os'] === 'string') {
    d.platform = { architecture: p['architecture'], os: p['os'] };
    if (typeof p['variant'] === 'string') d.platform.variant = p['variant'];
  }
  return d;
}

/** Parses a manifest or index body by its media type; schema 1 and unknown types are refused. */
export function parseManifest(body: Buffer, mediaType: string, where: string): ImageManifest | ImageIndex {
  if (mediaType === mediaTypes.dockerSchema1 || mediaType === mediaTypes.dockerSchema1Signed) {
    throw failedPrecondition(
      `${where}: Docker schema 1 manifests are not supported; push the image with schema 2 or OCI`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw failedPrecondition(`${where}: manifest is not JSON`);
  }
  if (!isRecord(doc)) throw failedPrecondition(`${where}: manifest is not a JSON object`);
  if (doc['schemaVersion'] === 1) {
    throw failedPrecondition(
      `${where}: Docker schema 1 manifests are not supported; push the image with schema 2 or OCI`,
    );
  }
  switch (mediaType) {
    case mediaTypes.ociIndex:
    case mediaTypes.dockerList: {
      const manifests = doc['manifests'];
      if (!Array.isArray(manifests)) throw failedPrecondition(`${where}: index without manifests`);
      return { kind: 'index', manifests: manifests.map((m) => descriptor(m, where)) };
    }
    case mediaTypes.ociManifest:
    case mediaTypes.dockerManifest: {
      const layers = doc['layers'];
      if (!Array.isArray(layers)) throw failedPrecondition(`${where}: manifest without layers`);
      return {
        kind: 'manifest',
        config: descriptor(doc['config'], where),
        layers: layers.map((l) => descriptor(l, where)),
      };
    }
    default:
      throw failedPrecondition(`${where}: unsupported manifest media type ${JSON.stringify(mediaType)}`);
  }
}

export const hostPlatform: Platform = { os: 'linux', architecture: 'amd64' };

/**
 * Picks the entry for `want` from an index, as containerd's platform matcher does: os and architecture must
 * match; a variant, when wanted, must match, and without one an entry without a variant is preferred.
 */
export function selectPlatform(index: ImageIndex, want: Platform, where: string): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform?.os === want.os && m.platform.architecture === want.architecture,
  );
  const exact = candidates.find((m) => (m.platform?.variant ?? '') === (want.variant ?? ''));
  const chosen = exact ?? (want.variant === undefined ? candidates[0] : undefined);
  if (chosen === undefined) {
    const offered = index.manifests.map((m) =>
      m.platform === undefined
        ? 'unknown'
        : [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/'),
    );
    const wanted = [want.os, want.architecture, want.variant].filter(Boolean).join('/');
    throw notFound(`${where}: no image for ${wanted} in the index (offers ${offered.join(', ') || 'nothing'})`);
  }
  return chosen;
}

export interface ImageConfig {
  user: string;
  diffIds: string[];
  raw: Record<string, unknown>;
}

/** The parts of an OCI image config a runtime needs up front; the rest is kept raw for container creation. */
export function parseImageConfig(body: Buffer, where: string): ImageConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw failedPrecondition(`${where}: image config is not JSON`);
  }
  if (!isRecord(doc)) throw failedPrecondition(`${where}: image config is not an object`);
  const rootfs = doc['rootfs'];
  const diffIds = isRecord(rootfs) ? rootfs['diff_ids'] : undefined;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string')) {
    throw failedPrecondition(`${where}: image config has no rootfs.diff_ids`);
  }
  const config = doc['config'];
  const user = isRecord(config) && typeof config['User'] === 'string' ? config['User'] : '';
  return { user, diffIds, raw: doc };
}

/**
 * The uid or username an image runs as, as CRI reports it: "1002" or "1002:1004" → uid; "www-data" or
 * "www-data:1004" → username; "" → uid 0 (root).
 */
export function imageUser(user: string): { uid?: bigint; username: string } {
  const name = user.split(':')[0] ?? '';
  if (name === '') return { uid: 0n, username: '' };
  if (/^\d+$/.test(name)) return { uid: BigInt(name), username: '' };
  return { username: name };
}
