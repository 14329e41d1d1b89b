import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriError, failedPrecondition, notFound, throwIfAborted, unavailable } from '../errors/errors.js';
import { basicHeader, parseChallenge, type AuthChallenge, type RegistryCredentials } from './registry-auth.js';
import { sha256Digest } from './content-store.js';
import { manifestAcceptTypes } from './manifest.js';
import { runtimeVersion } from '../version.js';

export interface RegistryEndpoint {
  /** host[:port] to dial; docker.io is already mapped to its API host by registries.conf resolution. */
  endpoint: string;
  /** Plain HTTP (registries.conf `insecure = true`). */
  insecure: boolean;
}

export interface FetchedManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

const maxManifestBytes = 4 * 1024 * 1024;
const retryDelaysMs = [200, 800];
const userAgent = `cri-ts/${runtimeVersion}`;

function isTransient(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * An OCI distribution API client for one registry endpoint: bearer-token challenges (realm/service/scope) and
 * basic auth, transient-error retries with backoff, redirects for blobs (credentials are not forwarded to
 * another origin). Uses Node's built-in fetch (undici), which pools keep-alive connections per origin.
 */
export class RegistryClient {
  private readonly base: string;
  /** Authorization header per repository scope, reused until the registry refuses it. */
  private readonly authorizations = new Map<string, string>();

  constructor(
    private readonly registry: RegistryEndpoint,
    private readonly credentials: RegistryCredentials | undefined,
  ) {
    this.base = `${registry.insecure ? 'http' : 'https'}://${registry.endpoint}`;
  }

  get endpoint(): string {
    return this.registry.endpoint;
  }

  async getManifest(repository: string, reference: string, signal: AbortSignal): Promise<FetchedManifest> {
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, repository, signal, {
      accept: manifestAcceptTypes.join(', '),
    });
    const length = Number(res.headers.get('content-length') ?? '0');
    if (length > maxManifestBytes)
      throw failedPrecondition(`manifest ${repository}:${reference} is larger than 4 MiB`);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > maxManifestBytes)
      throw failedPrecondition(`manifest ${repository}:${reference} is larger than 4 MiB`);
    const digest = sha256Digest(body);
    if (reference.includes(':') && reference !== digest) {
      throw failedPrecondition(`manifest ${repository}@${reference} arrived with digest ${digest}`);
    }
    let mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    if (mediaType === '' || mediaType === 'application/json' || mediaType === 'text/plain') {
      try {
        const declared = (JSON.parse(body.toString('utf8')) as { mediaType?: unknown }).mediaType;
        mediaType = typeof declared === 'string' ? declared : '';
      } catch {
        throw failedPrecondition(`manifest ${repository}:${reference} is not JSON`);
      }
    }
    return { body, mediaType, digest };
  }

  /** The blob's bytes as a stream; the caller verifies digest and size while storing it. */
  async getBlob(repository: string, digest: string, signal: AbortSignal): Promise<Readable> {
    const res = await this.request(`/v2/${repository}/blobs/${digest}`, repository, signal, {});
    if (res.body === null) throw unavailable(`blob ${digest} from ${this.endpoint} has no body`);
    return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>, { highWaterMark: 1 << 20 });
  }

  private async request(
    path: string,
    repository: string,
    signal: AbortSignal,
    headers: Record<string, string>,
  ): Promise<Response> {
    const url = `${this.base}${path}`;
    let challenged = false;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      const authorization = this.authorizations.get(repository);
      let res: Response;
      try {
        res = await fetch(url, {
          headers: {
            'user-agent': userAgent,
            ...headers,
            ...(authorization === undefined ? {} : { authorization }),
          },
          redirect: 'follow',
          signal,
        });
      } catch (err) {
        throwIfAborted(signal);
        const delay = retryDelaysMs[attempt];
        if (delay === undefined) {
          throw new CriError('Unavailable', `cannot reach registry ${this.endpoint}: ${describe(err)}`, {
            cause: err,
          });
        }
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (res.ok) return res;
      if (res.status === 401 && !challenged) {
        challenged = true;
        await res.body?.cancel();
        const challenge = parseChallenge(res.headers.get('www-authenticate'));
        this.authorizations.set(repository, await this.authorize(challenge, repository, signal));
        continue;
      }
      const detail = await errorDetail(res);
      if (isTransient(res.status)) {
        const delay = retryDelaysMs[attempt];
        if (delay !== undefined) {
          await sleep(delay, undefined, { signal }).catch(() => undefined);
          continue;
        }
        throw unavailable(`registry ${this.endpoint} answered ${String(res.status)} for ${path}: ${detail}`);
      }
      if (res.status === 404) throw notFound(`${this.endpoint}${path} not found: ${detail}`);
      if (res.status === 401 || res.status === 403) {
        throw failedPrecondition(
          `registry ${this.endpoint} refused access to ${repository} (${String(res.status)}): ${detail}`,
        );
      }
      throw failedPrecondition(`registry ${this.endpoint} answered ${String(res.status)} for ${path}: ${detail}`);
    }
  }

  /** Answers a 401 challenge: basic auth directly, or a token from the bearer realm. */
  private async authorize(
    challenge: AuthChallenge | undefined,
    repository: string,
    signal: AbortSignal,
  ): Promise<string> {
    const creds = this.credentials;
    if (challenge?.scheme === 'basic') {
      if (creds?.kind !== 'basic') throw failedPrecondition(`registry ${this.endpoint} requires credentials`);
      return basicHeader(creds.username, creds.password);
    }
    if (challenge?.scheme !== 'bearer') {
      throw failedPrecondition(`registry ${this.endpoint} asked for authentication without a usable challenge`);
    }
    if (creds?.kind === 'bearer') return `Bearer ${creds.token}`;
    const realm = challenge.params['realm'];
    if (realm === undefined || !/^https?:\/\//.test(realm)) {
      throw failedPrecondition(`registry ${this.endpoint} sent a bearer challenge without a valid realm`);
    }
    const service = challenge.params['service'];
    const scope = `repository:${repository}:pull`;
    let res: Response;
    if (creds?.kind === 'identity') {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'cri-ts',
        scope,
      });
      if (service !== undefined) form.set('service', service);
      res = await fetch(realm, { method: 'POST', body: form, headers: { 'user-agent': userAgent }, signal });
    } else {
      const url = new URL(realm);
      if (service !== undefined) url.searchParams.set('service', service);
      url.searchParams.set('scope', scope);
      const headers: Record<string, string> = { 'user-agent': userAgent };
      if (creds?.kind === 'basic') headers['authorization'] = basicHeader(creds.username, creds.password);
      res = await fetch(url, { headers, signal });
    }
    if (!res.ok) {
      const detail = await errorDetail(res);
      throw failedPrecondition(`token service ${realm} refused ${scope} (${String(res.status)}): ${detail}`);
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.access_token ?? body.token;
    if (token === undefined || token === '') throw failedPrecondition(`token service ${realm} returned no token`);
    return `Bearer ${token}`;
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}

/** The registry's own words: the first error of an OCI error body, else the status text. */
async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = doc.errors?.[0];
    if (first !== undefined) return [first.code, first.message].filter(Boolean).join(': ');
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || res.statusText;
}
