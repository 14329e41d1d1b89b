import { readFile } from 'node:fs/promises';
import { failedPrecondition, invalidArgument } from '../errors/errors.js';

/** What a pull may authenticate with, from the CRI AuthConfig or the credentials file. */
export type RegistryCredentials =
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token, exchanged at the token realm (docker login with identity tokens). */
  | { kind: 'identity'; username: string; identityToken: string }
  /** A bearer token to send as it is. */
  | { kind: 'bearer'; token: string };

export interface AuthChallenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (quoted values may contain commas). */
export function parseChallenge(header: string | null): AuthChallenge | undefined {
  if (header === null) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (m === null) return undefined;
  const scheme = (m[1] ?? '').toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  const paramPattern = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const p of (m[2] ?? '').matchAll(paramPattern)) {
    const key = p[1];
    if (key !== undefined)
      params[key.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme, params };
}

interface CriAuthConfig {
  username: string;
  password: string;
  auth: string;
  identity_token: string;
  registry_token: string;
}

function decodeAuthField(auth: string, where: string): { username: string; password: string } {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) throw invalidArgument(`${where}: auth is not base64 of "user:password"`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The credentials a CRI PullImageRequest carries, or undefined when it carries none. */
export function credentialsFromCri(auth: CriAuthConfig | null): RegistryCredentials | undefined {
  if (auth === null) return undefined;
  if (auth.registry_token !== '') return { kind: 'bearer', token: auth.registry_token };
  if (auth.identity_token !== '')
    return { kind: 'identity', username: auth.username, identityToken: auth.identity_token };
  if (auth.username !== '' || auth.password !== '') {
    return { kind: 'basic', username: auth.username, password: auth.password };
  }
  if (auth.auth !== '') return { kind: 'basic', ...decodeAuthField(auth.auth, 'pull auth config') };
  return undefined;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
}

/** "https://index.docker.io/v1/" and "docker.io" both name Docker Hub in credential files. */
function credentialKeyHost(key: string): string {
  const host = key.replace(/^https?:\/\//, '').split('/')[0] ?? '';
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/**
 * Credentials for `registry` (a host[:port] as written in references) from a docker config.json-style file. A
 * missing file means no credentials; a malformed one is an error naming the file.
 */
export async function credentialsFromFile(
  path: string,
  registry: string,
): Promise<RegistryCredentials | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let doc: DockerConfigFile;
  try {
    doc = JSON.parse(text) as DockerConfigFile;
  } catch {
    throw failedPrecondition(`credentials file ${path} is not valid JSON`);
  }
  const wanted = credentialKeyHost(registry);
  for (const [key, entry] of Object.entries(doc.auths ?? {})) {
    if (credentialKeyHost(key) !== wanted) continue;
    if (entry.identitytoken !== undefined && entry.identitytoken !== '') {
      const user = entry.auth !== undefined ? decodeAuthField(entry.auth, path).username : (entry.username ?? '');
      return { kind: 'identity', username: user, identityToken: entry.identitytoken };
    }
    if (entry.auth !== undefined && entry.auth !== '')
      return { kind: 'basic', ...decodeAuthField(entry.auth, path) };
    if (entry.username !== undefined)
      return { kind: 'basic', username: entry.username, password: entry.password ?? '' };
  }
  return undefined;
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
