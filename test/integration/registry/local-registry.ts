// A throwaway OCI registry for ImageService tests: Debian's distribution registry (docker-registry 2.8) on
// loopback behind a counting proxy, with no auth, htpasswd (basic) auth, or Docker token auth served by an
// in-process token server. Everything lives in one temp dir and one set of PIDs; stop() removes both.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'token'; username: string; password: string };

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

/** An OCI/Docker content descriptor, as manifests and indexes list them. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export interface ImageSpec {
  /** The image config; serialised with JSON.stringify unless given as bytes. */
  config: object | Buffer;
  layers: { data: Buffer; mediaType: string }[];
  /** MediaType.ociManifest (the default) or MediaType.dockerManifest; picks the matching config media type. */
  manifestMediaType?: string;
}

export interface PushedImage {
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
  /** The manifest as pushed. */
  manifest: Record<string, unknown>;
  /** The manifest's descriptor, ready for an index (add `platform`). */
  descriptor: Descriptor;
}

/** One request the registry answered, as the proxy in front of it saw it. */
export interface RequestRecord {
  method: string;
  /** Path and query, as sent. */
  path: string;
  status: number;
  /** The scheme of the Authorization header, lower case, or 'none'. */
  authorization: string;
}

/** One request to the token server. */
export interface TokenRequestRecord {
  method: 'GET' | 'POST';
  grant: 'basic' | 'password' | 'refresh_token' | 'anonymous' | 'other';
  scopes: string[];
  status: number;
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

const registryBin = process.env['REGISTRY_BIN'] ?? '/usr/bin/docker-registry';
const tokenService = 'cri-ts-local-registry';
const tokenIssuer = 'cri-ts-test-token-server';
const tokenLifetimeSeconds = 300;
const startTimeoutMs = 30_000;
const maxLogChars = 1 << 20;

// Registries still running when the test process exits (a failed test that never reached stop()) are killed
// by their PIDs, so none outlives the run.
const livePids = new Set<number>();
let exitHookInstalled = false;
function trackPid(pid: number): void {
  livePids.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of livePids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** `/v2/<name>/blobs/<digest>` → name and digest (upload URLs, `/blobs/uploads/…`, carry no digest). */
const blobPath = /^\/v2\/(.+)\/blobs\/([a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)$/;
/** `/v2/<name>/(blobs|manifests|tags)/…` → name. */
const repoPath = /^\/v2\/(.+)\/(?:blobs|manifests|tags)\//;

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!hopByHop.has(k)) out[k] = v;
  return out;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A bcrypt htpasswd line (distribution accepts no other hash), via libcrypt's crypt() from perl (Essential). */
async function htpasswdLine(username: string, password: string): Promise<string> {
  if (username.includes(':') || username.includes('\n')) {
    throw new Error(`htpasswd user name ${username} has ':' or a newline`);
  }
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const raw = randomBytes(22);
  // bcrypt's 22-character salt carries 128 bits: the last character only takes one of '.Oeu'.
  let salt = '';
  for (let i = 0; i < 21; i++) salt += alphabet.charAt((raw[i] ?? 0) % 64);
  salt += '.Oeu'.charAt((raw[21] ?? 0) % 4);
  const { stdout } = await execFileAsync('perl', ['-e', 'print crypt($ENV{PW}, $ENV{SALT})'], {
    env: { PATH: '/usr/bin:/bin', PW: password, SALT: `$2b$04$${salt}` },
  });
  if (!/^\$2b\$04\$[./A-Za-z0-9]{53}$/.test(stdout)) {
    throw new Error(`perl crypt() did not produce a bcrypt hash (libcrypt without bcrypt?): ${stdout}`);
  }
  return `${username}:${stdout}\n`;
}

interface Scope {
  type: string;
  name: string;
  actions: string[];
}

/** `repository:name:pull,push`; names may hold colons: the type ends at the first, actions follow the last. */
function parseScope(scope: string): Scope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter((a) => a !== ''),
  };
}

/**
 * The Docker token protocol (https://distribution.github.io/distribution/spec/auth/token/) for one user:
 * GET with Basic credentials, or the OAuth2 POST form (password and refresh_token grants). Anonymous requests
 * get 401, so clients must authenticate. Tokens are RS256 JWTs whose x5c header carries the self-signed
 * certificate that the registry's rootcertbundle trusts.
 */
class TokenServer {
  readonly requests: TokenRequestRecord[] = [];
  private readonly refreshTokens = new Set<string>();
  private server: Server | undefined;
  port = 0;

  constructor(
    private readonly username: string,
    private readonly password: string,
    private readonly privateKeyPem: string,
    private readonly certDerBase64: string,
  ) {}

  get realm(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.reply(res, 500, { errors: [{ code: 'UNKNOWN', message: String(err) }] });
        else res.destroy();
      });
    });
    this.server = server;
    this.port = await listen(server);
  }

  async stop(): Promise<void> {
    if (this.server !== undefined) await closeServer(this.server);
    this.server = undefined;
  }

  mintRefreshToken(): string {
    const t = randomBytes(24).toString('base64url');
    this.refreshTokens.add(t);
    return t;
  }

  private reply(res: ServerResponse, status: number, body: object): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.realm);
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      req.resume();
      this.reply(res, 404, { errors: [{ code: 'NOT_FOUND', message: `${String(req.method)} ${url.pathname}` }] });
      return;
    }
    const record: TokenRequestRecord = { method: req.method, grant: 'anonymous', scopes: [], status: 0 };
    this.requests.push(record);
    const done = (status: number, body: object): void => {
      record.status = status;
      this.reply(res, status, body);
    };
    const unauthorized = (message: string): void => done(401, { errors: [{ code: 'UNAUTHORIZED', message }] });

    let params: URLSearchParams;
    let authenticated = false;
    let offline = false;
    if (req.method === 'GET') {
      params = url.searchParams;
      req.resume();
      const authz = req.headers.authorization;
      if (authz !== undefined) {
        record.grant = /^basic /i.test(authz) ? 'basic' : 'other';
        authenticated = authz === basicAuthorization(this.username, this.password);
      }
      offline = params.get('offline_token') === 'true';
    } else {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const grant = params.get('grant_type');
      if (grant === 'password') {
        record.grant = 'password';
        authenticated = params.get('username') === this.username && params.get('password') === this.password;
        offline = params.get('access_type') === 'offline';
      } else if (grant === 'refresh_token') {
        record.grant = 'refresh_token';
        authenticated = this.refreshTokens.has(params.get('refresh_token') ?? '');
      } else {
        record.grant = 'other';
        record.scopes = params.getAll('scope');
        done(400, { error: 'unsupported_grant_type', error_description: `grant_type ${String(grant)}` });
        return;
      }
    }
    // OAuth2 joins scopes with spaces; the GET form repeats the parameter.
    record.scopes = params.getAll('scope').flatMap((s) => s.split(' ').filter((x) => x !== ''));
    if (!authenticated) {
      unauthorized(record.grant === 'anonymous' ? 'authentication required' : 'invalid credentials');
      return;
    }
    const service = params.get('service');
    if (service !== null && service !== tokenService) {
      done(400, { errors: [{ code: 'DENIED', message: `unknown service ${service}` }] });
      return;
    }
    const access: Scope[] = [];
    for (const s of record.scopes) {
      const parsed = parseScope(s);
      if (parsed === undefined) {
        done(400, { errors: [{ code: 'DENIED', message: `malformed scope ${s}` }] });
        return;
      }
      access.push(parsed);
    }
    const now = Math.floor(Date.now() / 1000);
    const token = this.jwt({
      iss: tokenIssuer,
      sub: this.username,
      aud: tokenService,
      exp: now + tokenLifetimeSeconds,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(16).toString('hex'),
      access,
    });
    done(200, {
      token,
      access_token: token,
      expires_in: tokenLifetimeSeconds,
      issued_at: new Date(now * 1000).toISOString(),
      ...(record.scopes.length > 0 ? { scope: record.scopes.join(' ') } : {}),
      ...(offline ? { refresh_token: this.mintRefreshToken() } : {}),
    });
  }

  private jwt(claims: object): string {
    const header = { typ: 'JWT', alg: 'RS256', x5c: [this.certDerBase64] };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), this.privateKeyPem);
    return `${signingInput}.${base64url(signature)}`;
  }
}

export class LocalRegistry {
  /** "127.0.0.1:<port>": the proxy in front of the registry, which is what clients should use. */
  readonly host: string;
  private readonly requestLog: RequestRecord[] = [];
  private readonly blobGets = new Map<string, number>();
  /** Authorization per repository, learned from challenges (token mode) or fixed (basic mode). */
  private readonly authorizations = new Map<string, string>();
  /** Sent before any challenge: Basic credentials in basic mode. */
  private defaultAuthorization: string | undefined;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private output = '';
  private upstreamPort = 0;
  private readonly agent = new Agent({ keepAlive: true });
  private stopped = false;

  private constructor(
    readonly auth: RegistryAuth,
    readonly dir: string,
    private readonly proxy: Server,
    proxyPort: number,
    private readonly tokenServer: TokenServer | undefined,
  ) {
    this.host = `127.0.0.1:${proxyPort}`;
  }

  /** Starts docker-registry on 127.0.0.1 with storage in a temp dir; resolves once /v2/ answers (401 counts). */
  static async start(auth: RegistryAuth): Promise<LocalRegistry> {
    const dir = await mkdtemp(join(tmpdir(), 'cri-ts-registry-'));
    let registry: LocalRegistry | undefined;
    let proxy: Server | undefined;
    let tokenServer: TokenServer | undefined;
    try {
      let authYaml = '';
      if (auth.kind === 'basic') {
        await writeFile(join(dir, 'htpasswd'), await htpasswdLine(auth.username, auth.password), { mode: 0o600 });
        authYaml = [
          'auth:',
          '  htpasswd:',
          '    realm: cri-ts-local-registry',
          `    path: ${join(dir, 'htpasswd')}`,
        ].join('\n');
      } else if (auth.kind === 'token') {
        tokenServer = await startTokenServer(dir, auth.username, auth.password);
        authYaml = [
          'auth:',
          '  token:',
          `    realm: ${tokenServer.realm}`,
          `    service: ${tokenService}`,
          `    issuer: ${tokenIssuer}`,
          `    rootcertbundle: ${join(dir, 'token-cert.pem')}`,
        ].join('\n');
      }

      const proxyServer = createServer();
      proxy = proxyServer;
      const proxyPort = await listen(proxyServer);
      const r = new LocalRegistry(auth, dir, proxyServer, proxyPort, tokenServer);
      registry = r;
      proxyServer.on('request', (req: IncomingMessage, res: ServerResponse) => r.forward(req, res));
      if (auth.kind === 'basic') r.defaultAuthorization = basicAuthorization(auth.username, auth.password);

      await mkdir(join(dir, 'storage'));
      const config = join(dir, 'registry.yml');
      await writeFile(config, registryConfig(dir, authYaml));
      await r.spawnRegistry(config);
      await r.waitUntilAnswering();
      return r;
    } catch (err) {
      if (registry !== undefined) {
        await registry.stop();
      } else {
        if (proxy !== undefined) await closeServer(proxy);
        await tokenServer?.stop();
        await rm(dir, { recursive: true, force: true });
      }
      throw err;
    }
  }

  /** The registry's own stdout and stderr (app log and access log), for failure messages. */
  get logs(): string {
    return this.output;
  }

  /** The docker-registry process, while it runs. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** "http://127.0.0.1:<port>" */
  get url(): string {
    return `http://${this.host}`;
  }

  /** The token realm (token mode only). */
  get tokenRealm(): string | undefined {
    return this.tokenServer?.realm;
  }

  /** The `service` the registry names in its bearer challenge (token mode only). */
  get tokenService(): string | undefined {
    return this.tokenServer === undefined ? undefined : tokenService;
  }

  /** A refresh token ("identity token") that the token server's refresh_token grant accepts (token mode only). */
  identityToken(): string {
    if (this.tokenServer === undefined) {
      throw new Error(`identityToken() needs a token registry, not ${this.auth.kind}`);
    }
    return this.tokenServer.mintRefreshToken();
  }

  /** Every request the registry answered so far, in order of the answers. */
  requests(): RequestRecord[] {
    return this.requestLog.map((r) => ({ ...r }));
  }

  /** Every request the token server answered so far (empty unless token mode). */
  tokenRequests(): TokenRequestRecord[] {
    return (this.tokenServer?.requests ?? []).map((r) => ({ ...r, scopes: [...r.scopes] }));
  }

  /**
   * How many GETs of the blob the registry answered 200 or 206 (downloads, not 401 challenges), across all
   * repositories or in `repo`. Counted by the proxy when the registry's answer arrives, before the client sees
   * it, so the count is exact once the client has the response.
   */
  blobFetchCount(digest: string, repo?: string): Promise<number> {
    if (repo !== undefined) return Promise.resolve(this.blobGets.get(`${repo}@${digest}`) ?? 0);
    let n = 0;
    for (const [key, count] of this.blobGets) if (key.endsWith(`@${digest}`)) n += count;
    return Promise.resolve(n);
  }

  /** Forgets the request log and the blob counts. */
  resetCounts(): void {
    this.requestLog.length = 0;
    this.blobGets.clear();
  }

  /** Kills the registry by its PID, stops the proxy and the token server, removes the temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const proc = this.proc;
    if (proc?.pid !== undefined && this.exited !== undefined) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await this.exited;
        clearTimeout(timer);
      }
      livePids.delete(proc.pid);
    }
    await closeServer(this.proxy);
    this.agent.destroy();
    await this.tokenServer?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * fetch() against the registry, authenticating as the configured user: Basic in basic mode, a bearer token
   * from the token server in token mode (answering the registry's 401 challenge once, then cached per
   * repository). `pathOrUrl` is "/v2/…" or an absolute URL (upload locations).
   */
  async authorizedFetch(
    pathOrUrl: string,
    init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
  ): Promise<Response> {
    const url = new URL(pathOrUrl, this.url);
    const repo = repoPath.exec(url.pathname)?.[1] ?? '';
    for (let challenged = false; ; challenged = true) {
      const authorization = this.authorizations.get(repo) ?? this.defaultAuthorization;
      const res = await fetch(url, {
        method: init.method ?? 'GET',
        headers: { ...init.headers, ...(authorization === undefined ? {} : { authorization }) },
        ...(init.body === undefined ? {} : { body: new Uint8Array(init.body) }),
        redirect: 'follow',
      });
      if (res.status !== 401 || challenged || this.auth.kind === 'none') return res;
      const challenge = res.headers.get('www-authenticate') ?? '';
      await res.body?.cancel();
      this.authorizations.set(repo, await this.answerChallenge(challenge));
    }
  }

  /** Uploads a blob (monolithic: POST an upload, PUT the bytes with ?digest=); returns "sha256:<hex>". */
  async pushBlob(repo: string, data: Buffer): Promise<string> {
    const digest = sha256Digest(data);
    const started = await this.authorizedFetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await expectStatus(started, 202, `POST /v2/${repo}/blobs/uploads/`);
    const location = started.headers.get('location');
    if (location === null) throw new Error(`POST /v2/${repo}/blobs/uploads/ answered without a Location`);
    const put = new URL(location, this.url);
    put.searchParams.set('digest', digest);
    const done = await this.authorizedFetch(put.href, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      body: data,
    });
    await expectStatus(done, 201, `PUT blob ${digest} to ${repo}`);
    const stored = done.headers.get('docker-content-digest');
    if (stored !== null && stored !== digest) throw new Error(`registry stored ${digest} as ${stored}`);
    return digest;
  }

  /** PUTs a manifest or index under a tag or digest; returns its digest (checked against the registry's). */
  async pushManifest(repo: string, reference: string, body: Buffer | object, mediaType: string): Promise<string> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const digest = sha256Digest(bytes);
    const res = await this.authorizedFetch(`/v2/${repo}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    await expectStatus(res, 201, `PUT manifest ${repo}:${reference}`);
    const stored = res.headers.get('docker-content-digest');
    if (stored !== null && stored !== digest) throw new Error(`registry stored manifest ${digest} as ${stored}`);
    return digest;
  }

  /** Pushes the config, the layers and a manifest (OCI unless manifestMediaType says Docker) under `tag`. */
  async pushImage(repo: string, tag: string, image: ImageSpec): Promise<PushedImage> {
    const manifestMediaType = image.manifestMediaType ?? MediaType.ociManifest;
    let configMediaType: string;
    if (manifestMediaType === MediaType.ociManifest) configMediaType = MediaType.ociConfig;
    else if (manifestMediaType === MediaType.dockerManifest) configMediaType = MediaType.dockerConfig;
    else throw new Error(`pushImage: unsupported manifest media type ${manifestMediaType}`);
    const configBytes = Buffer.isBuffer(image.config) ? image.config : Buffer.from(JSON.stringify(image.config));
    const configDigest = await this.pushBlob(repo, configBytes);
    const layers: Descriptor[] = [];
    for (const layer of image.layers) {
      layers.push({
        mediaType: layer.mediaType,
        digest: await this.pushBlob(repo, layer.data),
        size: layer.data.length,
      });
    }
    const manifest: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: { mediaType: configMediaType, digest: configDigest, size: configBytes.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = await this.pushManifest(repo, tag, bytes, manifestMediaType);
    return {
      manifestDigest,
      configDigest,
      layerDigests: layers.map((l) => l.digest),
      manifest,
      descriptor: { mediaType: manifestMediaType, digest: manifestDigest, size: bytes.length },
    };
  }

  /**
   * Pushes an index (OCI, or a Docker manifest list when `mediaType` says so) of manifests already in `repo`
   * under `tag`; returns its digest.
   */
  async pushIndex(
    repo: string,
    tag: string,
    manifests: (Descriptor & { platform: Platform })[],
    mediaType: string = MediaType.ociIndex,
  ): Promise<string> {
    return this.pushManifest(repo, tag, { schemaVersion: 2, mediaType, manifests }, mediaType);
  }

  private async answerChallenge(header: string): Promise<string> {
    const auth = this.auth;
    if (auth.kind === 'none') throw new Error('no credentials for a registry without auth');
    if (/^basic\b/i.test(header)) return basicAuthorization(auth.username, auth.password);
    if (!/^bearer\b/i.test(header)) throw new Error(`registry sent an unusable challenge: ${header}`);
    const params = new Map<string, string>();
    for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) params.set((m[1] ?? '').toLowerCase(), m[2] ?? '');
    const realm = params.get('realm');
    if (realm === undefined) throw new Error(`bearer challenge without a realm: ${header}`);
    const url = new URL(realm);
    const service = params.get('service');
    if (service !== undefined) url.searchParams.set('service', service);
    const scope = params.get('scope');
    if (scope !== undefined) for (const s of scope.split(' ')) url.searchParams.append('scope', s);
    const res = await fetch(url, { headers: { authorization: basicAuthorization(auth.username, auth.password) } });
    await expectStatus(res, 200, `token request ${url.href}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.access_token ?? body.token;
    if (token === undefined) throw new Error(`token server returned no token: ${JSON.stringify(body)}`);
    return `Bearer ${token}`;
  }

  /** Passes one request to the registry unchanged (Host included, so upload Locations name the proxy). */
  private forward(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const authzHeader = req.headers.authorization;
    const record: RequestRecord = {
      method,
      path,
      status: 0,
      authorization: authzHeader === undefined ? 'none' : (authzHeader.split(' ')[0] ?? '').toLowerCase(),
    };
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port: this.upstreamPort,
        method,
        path,
        headers: endToEnd(req.headers),
        agent: this.agent,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        record.status = status;
        this.requestLog.push(record);
        const blob = blobPath.exec(path.split('?')[0] ?? '');
        if (blob !== null && method === 'GET' && (status === 200 || status === 206)) {
          const key = `${blob[1] ?? ''}@${blob[2] ?? ''}`;
          this.blobGets.set(key, (this.blobGets.get(key) ?? 0) + 1);
        }
        res.writeHead(status, answer.statusMessage, endToEnd(answer.headers));
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      record.status = 502;
      this.requestLog.push(record);
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`local-registry proxy: ${err.message}`);
    });
    req.pipe(upstream);
  }

  private appendOutput(chunk: Buffer): void {
    this.output += chunk.toString();
    if (this.output.length > maxLogChars) this.output = this.output.slice(-maxLogChars / 2);
  }

  /**
   * Spawns the registry with a clean environment (REGISTRY_* variables would override the config). setpriv
   * execs it in place (the PID is the registry's) with a parent-death signal, so it dies with the test process
   * even when that is killed outright and the exit hook never runs.
   */
  private async spawnRegistry(config: string): Promise<void> {
    const proc = spawn('setpriv', ['--pdeathsig', 'KILL', '--', registryBin, 'serve', config], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: this.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    this.exited = exited;
    const spawned = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', reject);
    });
    // The registry listens on port 0 and logs the address it got: no race for a port.
    const port = new Promise<number>((resolve) => {
      const seen = (chunk: Buffer): void => {
        this.appendOutput(chunk);
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(this.output);
        if (m !== null) resolve(Number(m[1]));
      };
      proc.stdout.on('data', seen);
      proc.stderr.on('data', seen);
    });
    await spawned;
    if (proc.pid !== undefined) trackPid(proc.pid);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      port,
      exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), startTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'exited') throw new Error(`docker-registry exited during start-up:\n${this.output}`);
    if (outcome === 'timeout') {
      throw new Error(`docker-registry did not listen within ${startTimeoutMs}ms:\n${this.output}`);
    }
    this.upstreamPort = outcome;
  }

  /** Polls GET /v2/ through the proxy: 200 without auth, 401 with it (anything else is a misconfiguration). */
  private async waitUntilAnswering(): Promise<void> {
    const expected = this.auth.kind === 'none' ? 200 : 401;
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      let status = 0;
      try {
        const res = await fetch(`${this.url}/v2/`);
        await res.body?.cancel();
        status = res.status;
      } catch {
        // not yet
      }
      if (status === expected) {
        this.resetCounts();
        return;
      }
      if (status !== 0 && status !== 502) {
        throw new Error(`GET /v2/ answered ${status}, expected ${expected}:\n${this.output}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`docker-registry did not answer within ${startTimeoutMs}ms:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status === status) return;
  const text = await res.text().catch(() => '');
  throw new Error(`${what}: expected ${status}, got ${res.status}: ${text.slice(0, 500)}`);
}

/** A self-signed RSA certificate (the registry's rootcertbundle) and its key (the token server's signing key). */
async function startTokenServer(dir: string, username: string, password: string): Promise<TokenServer> {
  const key = join(dir, 'token-key.pem');
  const cert = join(dir, 'token-cert.pem');
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=cri-ts-test-token-server',
  ]);
  const certPem = await readFile(cert, 'utf8');
  const server = new TokenServer(
    username,
    password,
    await readFile(key, 'utf8'),
    new X509Certificate(certPem).raw.toString('base64'),
  );
  await server.start();
  return server;
}

/** Loopback only, no TLS, no debug listener, no notifications: nothing listens or dials beyond 127.0.0.1. */
function registryConfig(dir: string, authYaml: string): string {
  return `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ${join(dir, 'storage')}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:0
  secret: ${randomBytes(16).toString('hex')}
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
${authYaml}
`;
}
