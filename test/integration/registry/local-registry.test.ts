// Proves LocalRegistry serves what the ImageService tests need, in each auth mode, with plain fetch() doing the
// registry and token protocols by hand (so the library's own client is not what is being checked), and with
// skopeo as an independent real client.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  basicAuthorization,
  LocalRegistry,
  MediaType,
  sha256Digest,
  type PushedImage,
  type RegistryAuth,
} from './local-registry.js';

const execFileAsync = promisify(execFile);

const username = 'tester';
const password = 'correct horse battery staple';
const modes: RegistryAuth[] = [
  { kind: 'none' },
  { kind: 'basic', username, password },
  { kind: 'token', username, password },
];

function imageConfig(architecture: string): object {
  return {
    architecture,
    os: 'linux',
    config: { Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: [sha256Digest(`layer-${architecture}`)] },
  };
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
function challengeParams(header: string | null): Map<string, string> {
  const params = new Map<string, string>();
  for (const m of (header ?? '').matchAll(/(\w+)="([^"]*)"/g)) params.set(m[1] ?? '', m[2] ?? '');
  return params;
}

/** The token server's answer to GET realm?service=…&scope=… with these credentials (undefined: anonymous). */
async function requestToken(
  registry: LocalRegistry,
  scope: string,
  creds?: { username: string; password: string },
): Promise<Response> {
  const url = new URL(registry.tokenRealm ?? assert.fail('no token realm'));
  url.searchParams.set('service', registry.tokenService ?? '');
  url.searchParams.set('scope', scope);
  return fetch(
    url,
    creds === undefined ? {} : { headers: { authorization: basicAuthorization(creds.username, creds.password) } },
  );
}

/** The Authorization header a well-behaved client would send for `repo`, obtained with plain fetch. */
async function authorizationFor(registry: LocalRegistry, repo: string): Promise<Record<string, string>> {
  const auth = registry.auth;
  switch (auth.kind) {
    case 'none':
      return {};
    case 'basic':
      return { authorization: basicAuthorization(auth.username, auth.password) };
    case 'token': {
      const anon = await fetch(`${registry.url}/v2/${repo}/manifests/v1`);
      await anon.body?.cancel();
      assert.equal(anon.status, 401);
      const params = challengeParams(anon.headers.get('www-authenticate'));
      assert.equal(params.get('realm'), registry.tokenRealm);
      assert.equal(params.get('scope'), `repository:${repo}:pull`);
      const res = await requestToken(registry, params.get('scope') ?? '', auth);
      assert.equal(res.status, 200);
      const body = (await res.json()) as {
        token: string;
        access_token: string;
        expires_in: number;
        issued_at: string;
      };
      assert.equal(body.token, body.access_token);
      assert.ok(body.expires_in >= 60);
      assert.ok(Math.abs(Date.parse(body.issued_at) - Date.now()) < 60_000);
      return { authorization: `Bearer ${body.token}` };
    }
  }
}

async function getManifest(
  registry: LocalRegistry,
  repo: string,
  reference: string,
  headers: Record<string, string>,
) {
  return fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, {
    headers: {
      accept: [
        MediaType.ociManifest,
        MediaType.ociIndex,
        MediaType.dockerManifest,
        MediaType.dockerManifestList,
      ].join(),
      ...headers,
    },
  });
}

/** skopeo with nothing of the host's: empty registries.conf and registries.d, its own HOME and runtime dir. */
async function skopeo(args: string[]): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'cri-ts-skopeo-'));
  try {
    await writeFile(join(home, 'registries.conf'), '');
    await mkdir(join(home, 'registries.d'));
    const { stdout } = await execFileAsync(
      'skopeo',
      ['--registries.d', join(home, 'registries.d'), '--command-timeout', '60s', ...args],
      {
        env: {
          PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
          HOME: home,
          XDG_RUNTIME_DIR: home,
          CONTAINERS_REGISTRIES_CONF: join(home, 'registries.conf'),
          REGISTRY_AUTH_FILE: join(home, 'auth.json'),
        },
      },
    );
    return stdout;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

for (const mode of modes) {
  describe(`LocalRegistry with ${mode.kind} auth`, () => {
    const repo = 'library/app';
    let registry: LocalRegistry;
    let image: PushedImage;
    let startMs = 0;

    before(async () => {
      const t0 = performance.now();
      registry = await LocalRegistry.start(mode);
      startMs = performance.now() - t0;
      image = await registry.pushImage(repo, 'v1', {
        config: imageConfig('amd64'),
        layers: [
          { data: randomBytes(4096), mediaType: MediaType.ociLayerGzip },
          { data: randomBytes(100), mediaType: MediaType.ociLayerZstd },
        ],
      });
    });
    after(() => registry.stop());

    it('listens on loopback and answers /v2/ (anonymously only without auth)', async (t) => {
      t.diagnostic(`${mode.kind} registry started in ${startMs.toFixed(0)} ms`);
      assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
      const res = await fetch(`${registry.url}/v2/`);
      await res.body?.cancel();
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      if (mode.kind === 'none') {
        assert.equal(res.status, 200);
      } else {
        assert.equal(res.status, 401);
        const scheme = mode.kind === 'basic' ? 'Basic' : 'Bearer';
        assert.match(res.headers.get('www-authenticate') ?? '', new RegExp(`^${scheme} `));
      }
    });

    it('serves the pushed manifest to an authorised GET, byte for byte', async () => {
      const res = await getManifest(registry, repo, 'v1', await authorizationFor(registry, repo));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), MediaType.ociManifest);
      assert.equal(res.headers.get('docker-content-digest'), image.manifestDigest);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.equal(sha256Digest(bytes), image.manifestDigest);
      assert.deepEqual(JSON.parse(bytes.toString()), image.manifest);
      assert.equal(bytes.length, image.descriptor.size);
    });

    if (mode.kind !== 'none') {
      it('refuses anonymous pulls of manifests and blobs', async () => {
        const manifest = await getManifest(registry, repo, 'v1', {});
        await manifest.body?.cancel();
        assert.equal(manifest.status, 401);
        const blob = await fetch(`${registry.url}/v2/${repo}/blobs/${image.configDigest}`);
        await blob.body?.cancel();
        assert.equal(blob.status, 401);
      });

      it('refuses a wrong password', async () => {
        const wrong = { username, password: 'wrong' };
        if (mode.kind === 'basic') {
          const res = await getManifest(registry, repo, 'v1', {
            authorization: basicAuthorization(wrong.username, wrong.password),
          });
          await res.body?.cancel();
          assert.equal(res.status, 401);
        } else {
          const res = await requestToken(registry, `repository:${repo}:pull`, wrong);
          assert.equal(res.status, 401);
          assert.equal(((await res.json()) as { token?: string }).token, undefined);
          const unknownUser = await requestToken(registry, `repository:${repo}:pull`, {
            username: 'nobody',
            password,
          });
          await unknownUser.body?.cancel();
          assert.equal(unknownUser.status, 401);
        }
      });
    }

    it('round-trips a blob', async () => {
      const data = randomBytes(1 << 20);
      const digest = await registry.pushBlob(repo, data);
      assert.equal(digest, sha256Digest(data));
      const headers = await authorizationFor(registry, repo);
      const head = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(data.length));
      assert.equal(head.headers.get('docker-content-digest'), digest);
      const res = await fetch(`${registry.url}/v2/${repo}/blobs/${digest}`, { headers });
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
      const missing = await fetch(`${registry.url}/v2/${repo}/blobs/${sha256Digest('absent')}`, { headers });
      await missing.body?.cancel();
      assert.equal(missing.status, 404);
    });

    it('stores an index of two platform manifests, Docker schema 2 ones included', async () => {
      const amd64 = await registry.pushImage('multi/arch', 'amd64', {
        config: imageConfig('amd64'),
        layers: [{ data: randomBytes(512), mediaType: MediaType.ociLayerGzip }],
      });
      const arm64 = await registry.pushImage('multi/arch', 'arm64', {
        config: imageConfig('arm64'),
        layers: [{ data: randomBytes(512), mediaType: MediaType.dockerLayerGzip }],
        manifestMediaType: MediaType.dockerManifest,
      });
      const manifests = [
        { ...amd64.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm64.descriptor, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ];
      const indexDigest = await registry.pushIndex('multi/arch', 'latest', manifests);

      const headers = await authorizationFor(registry, 'multi/arch');
      const res = await getManifest(registry, 'multi/arch', 'latest', headers);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), MediaType.ociIndex);
      assert.equal(res.headers.get('docker-content-digest'), indexDigest);
      const index = (await res.json()) as { mediaType: string; manifests: { digest: string; platform: object }[] };
      assert.equal(index.mediaType, MediaType.ociIndex);
      assert.deepEqual(index.manifests, manifests);

      const child = await getManifest(registry, 'multi/arch', arm64.manifestDigest, headers);
      assert.equal(child.status, 200);
      assert.equal(child.headers.get('content-type'), MediaType.dockerManifest);
      assert.equal(sha256Digest(Buffer.from(await child.arrayBuffer())), arm64.manifestDigest);
    });

    it('counts blob GETs exactly: downloads only, per digest and repository', async () => {
      const data = randomBytes(2048);
      const digest = await registry.pushBlob(repo, data);
      assert.equal(await registry.blobFetchCount(digest), 0, 'pushing is not fetching');
      const url = `${registry.url}/v2/${repo}/blobs/${digest}`;
      if (mode.kind !== 'none') {
        const refused = await fetch(url);
        await refused.body?.cancel();
        assert.equal(refused.status, 401);
      }
      const headers = await authorizationFor(registry, repo);
      const head = await fetch(url, { method: 'HEAD', headers });
      assert.equal(head.status, 200);
      for (let i = 0; i < 2; i++) {
        const res = await fetch(url, { headers });
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
      }
      assert.equal(await registry.blobFetchCount(digest), 2);
      assert.equal(await registry.blobFetchCount(digest, repo), 2);
      assert.equal(await registry.blobFetchCount(digest, 'other/repo'), 0);
      const ranged = await fetch(url, { headers: { ...headers, range: 'bytes=0-9' } });
      assert.equal(ranged.status, 206);
      assert.equal((await ranged.arrayBuffer()).byteLength, 10);
      assert.equal(await registry.blobFetchCount(digest), 3, 'a ranged GET is a download too');
      const gets = registry
        .requests()
        .filter((r) => r.method === 'GET' && r.path === `/v2/${repo}/blobs/${digest}`);
      assert.equal(gets.length, mode.kind === 'none' ? 3 : 4, 'the log keeps the refused GET');
    });

    it('serves skopeo inspect (a real client) with the right credentials', async () => {
      const args = ['inspect', '--tls-verify=false'];
      if (mode.kind === 'none') args.push('--no-creds');
      else args.push('--creds', `${username}:${password}`);
      const out = JSON.parse(await skopeo([...args, `docker://${registry.host}/${repo}:v1`])) as {
        Digest: string;
        Architecture: string;
        Layers: string[];
        RepoTags: string[];
      };
      assert.equal(out.Digest, image.manifestDigest);
      assert.equal(out.Architecture, 'amd64');
      assert.deepEqual(out.Layers, image.layerDigests);
      assert.deepEqual(out.RepoTags, ['v1']);
      if (mode.kind !== 'none') {
        await assert.rejects(
          skopeo([
            'inspect',
            '--tls-verify=false',
            '--creds',
            `${username}:wrong`,
            `docker://${registry.host}/${repo}:v1`,
          ]),
          /unauthorized|401|authentication required|invalid credentials/i,
        );
      }
    });

    if (mode.kind === 'token') {
      it('limits a token to its scope and rejects tampered tokens', async () => {
        await registry.pushImage('other/repo', 'v1', { config: imageConfig('amd64'), layers: [] });
        const res = await requestToken(registry, `repository:${repo}:pull`, { username, password });
        const { token } = (await res.json()) as { token: string };
        const own = await getManifest(registry, repo, 'v1', { authorization: `Bearer ${token}` });
        await own.body?.cancel();
        assert.equal(own.status, 200);
        const other = await getManifest(registry, 'other/repo', 'v1', { authorization: `Bearer ${token}` });
        await other.body?.cancel();
        assert.equal(other.status, 401, 'a pull token for one repository does not open another');

        const [header = '', payload = '', signature = ''] = token.split('.');
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { access: { name: string }[] };
        for (const a of claims.access) a.name = 'other/repo';
        const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
        const tampered = await getManifest(registry, 'other/repo', 'v1', { authorization: `Bearer ${forged}` });
        await tampered.body?.cancel();
        assert.equal(tampered.status, 401, 'the registry checks the signature');

        const push = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
        await push.body?.cancel();
        assert.equal(push.status, 401, 'a pull token does not push');
      });

      it('answers the OAuth2 POST form: password grant, refresh_token grant with identityToken()', async () => {
        const post = (form: Record<string, string>) =>
          fetch(registry.tokenRealm ?? '', { method: 'POST', body: new URLSearchParams(form) });
        const scope = `repository:${repo}:pull`;
        const service = registry.tokenService ?? '';

        const byPassword = await post({
          grant_type: 'password',
          username,
          password,
          service,
          scope,
          access_type: 'offline',
        });
        assert.equal(byPassword.status, 200);
        const issued = (await byPassword.json()) as { access_token: string; refresh_token?: string };
        assert.ok(issued.refresh_token !== undefined, 'access_type=offline yields a refresh token');

        for (const refreshToken of [issued.refresh_token, registry.identityToken()]) {
          const res = await post({
            grant_type: 'refresh_token',
            refresh_token: refreshToken,
            client_id: 'cri-ts',
            service,
            scope,
          });
          assert.equal(res.status, 200);
          const { access_token } = (await res.json()) as { access_token: string };
          const manifest = await getManifest(registry, repo, 'v1', { authorization: `Bearer ${access_token}` });
          await manifest.body?.cancel();
          assert.equal(manifest.status, 200);
        }

        const badRefresh = await post({ grant_type: 'refresh_token', refresh_token: 'bogus', service, scope });
        await badRefresh.body?.cancel();
        assert.equal(badRefresh.status, 401);
        const badPassword = await post({ grant_type: 'password', username, password: 'wrong', service, scope });
        await badPassword.body?.cancel();
        assert.equal(badPassword.status, 401);
        const anonymous = await requestToken(registry, scope);
        await anonymous.body?.cancel();
        assert.equal(anonymous.status, 401, 'anonymous token requests are refused');
        assert.ok(registry.tokenRequests().some((r) => r.grant === 'refresh_token' && r.status === 200));
      });
    }
  });
}

describe('LocalRegistry.stop', () => {
  it('kills the registry by PID and removes its temp dir', async () => {
    const registry = await LocalRegistry.start({ kind: 'basic', username, password });
    const { dir, pid } = registry;
    assert.ok(pid !== undefined);
    await registry.stop();
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    await assert.rejects(fetch(`${registry.url}/v2/`));
    await assert.rejects(access(dir), { code: 'ENOENT' });
    await registry.stop();
  });
});
