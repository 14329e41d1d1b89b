import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { failedPrecondition, isCriError } from '../errors/errors.js';
import {
  formatReference,
  hasExplicitDomain,
  parseReference,
  parseRegistryPrefix,
  repositoryName,
  type ImageReference,
} from './reference.js';

/*
 * containers-registries.conf(5), version 2: the file cri-o, podman and buildah share in /etc/containers, read
 * with the same merging and matching rules as containers/image's sysregistriesv2 so that one file means the
 * same to every runtime on the node. Settings cri-ts cannot honour (proxies, credential helpers) are refused
 * rather than ignored, since ignoring them would silently pull from somewhere else or without the intended auth.
 */

export interface MirrorConfig {
  location: string;
  insecure: boolean;
  pullFromMirror: 'all' | 'digest-only' | 'tag-only';
}

export interface RegistryConfig {
  /** What references it applies to: "host[:port][/path]" or "*.domain". */
  prefix: string;
  /** Where the prefix really lives; "" only for a wildcard prefix, meaning "no rewrite". */
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: MirrorConfig[];
  mirrorByDigestOnly: boolean;
}

export interface RegistriesConf {
  unqualifiedSearchRegistries: string[];
  shortNameMode: 'enforcing' | 'permissive' | 'disabled';
  /** Sorted by prefix, one entry per prefix. */
  registries: RegistryConfig[];
  /** Short name → fully qualified repository name, already normalised ("docker.io/library/…"). */
  aliases: Record<string, string>;
}

export interface PullSource {
  /** host[:port] to dial. */
  endpoint: string;
  /** Repository path on that endpoint. */
  repository: string;
  insecure: boolean;
  mirror: boolean;
}

type ShortNameMode = RegistriesConf['shortNameMode'];
type PullFromMirror = MirrorConfig['pullFromMirror'];

const shortNameModes: readonly ShortNameMode[] = ['enforcing', 'permissive', 'disabled'];
const pullFromMirrorValues: readonly PullFromMirror[] = ['all', 'digest-only', 'tag-only'];
const dockerHub = 'docker.io';
/** Docker Hub's images are named docker.io/… but served by this host. */
const dockerHubEndpoint = 'registry-1.docker.io';

/** What one file sets; an undefined field leaves the value from earlier files alone. */
interface FileLayer {
  unqualifiedSearchRegistries?: string[];
  shortNameMode?: ShortNameMode;
  registries: RegistryConfig[];
  /** An empty target erases the alias set by an earlier file. */
  aliases: Map<string, string>;
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'an array';
  return isTable(v) ? 'a table' : String(v);
}

/** Reads typed values out of one file's TOML, naming the file and key in every complaint. */
class FileReader {
  constructor(readonly file: string) {}

  problem(key: string, detail: string): Error {
    return failedPrecondition(key === '' ? `${this.file}: ${detail}` : `${this.file}: key "${key}": ${detail}`);
  }

  invalid(key: string, value: unknown, expected: string): Error {
    return this.problem(key, `invalid value ${describe(value)}: ${expected}`);
  }

  /** A table with only the `known` keys, or with any keys when `known` is undefined. */
  table(key: string, value: unknown, known: readonly string[] | undefined): Record<string, unknown> {
    if (!isTable(value)) throw this.invalid(key, value, 'expected a table');
    for (const name of Object.keys(value)) {
      if (known !== undefined && !known.includes(name))
        throw this.problem(key === '' ? name : `${key}.${name}`, 'unknown key');
    }
    return value;
  }

  string(key: string, value: unknown): string {
    if (typeof value !== 'string') throw this.invalid(key, value, 'expected a string');
    return value;
  }

  bool(key: string, value: unknown): boolean {
    if (value === undefined) return false;
    if (typeof value !== 'boolean') throw this.invalid(key, value, 'expected true or false');
    return value;
  }

  strings(key: string, value: unknown): string[] {
    if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) {
      throw this.invalid(key, value, 'expected an array of strings');
    }
    return [...value];
  }

  tables(key: string, value: unknown): unknown[] {
    if (!Array.isArray(value)) throw this.invalid(key, value, 'expected an array of tables ([[…]])');
    return value;
  }

  /** A prefix or location; a trailing '/' is dropped as containers/image does. */
  location(key: string, value: unknown): string {
    const text = this.string(key, value).replace(/\/+$/, '');
    if (/^https?:\/\//.test(text))
      throw this.invalid(key, value, 'URL schemes are not supported, write host[/path]');
    if (text !== '') this.check(key, () => parseRegistryPrefix(text));
    return text;
  }

  /** Runs a parser from reference.ts, turning its invalidArgument into a problem with this file. */
  check<T>(key: string, parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (isCriError(err)) throw this.problem(key, err.message);
      throw err;
    }
  }
}

/** "*.example.com": any subdomain, at any depth, on any port. Nothing else may follow the domain. */
function isWildcard(prefix: string): boolean {
  return prefix.startsWith('*.');
}

function readWildcard(r: FileReader, key: string, value: unknown): string {
  const prefix = r.string(key, value).replace(/\/+$/, '');
  const domain = prefix.slice(2);
  if (
    /[/@:*]/.test(domain) ||
    !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(domain) ||
    domain.includes('..')
  ) {
    throw r.invalid(key, value, 'a wildcard prefix must be "*.domain" with nothing after the domain');
  }
  return prefix;
}

function readMirror(r: FileReader, key: string, value: unknown, byDigestOnly: boolean): MirrorConfig {
  const t = r.table(key, value, ['location', 'insecure', 'pull-from-mirror', 'proxy']);
  if (t['proxy'] !== undefined)
    throw r.problem(`${key}.proxy`, 'per-registry proxies are not supported by cri-ts');
  const location = t['location'] === undefined ? '' : r.location(`${key}.location`, t['location']);
  if (location === '') throw r.problem(`${key}.location`, 'a mirror needs a location');
  let pullFromMirror: PullFromMirror = 'all';
  const raw = t['pull-from-mirror'];
  if (raw !== undefined && raw !== '') {
    const mode = pullFromMirrorValues.find((v) => v === raw);
    if (mode === undefined)
      throw r.invalid(`${key}.pull-from-mirror`, raw, 'expected all, digest-only or tag-only');
    // containers/image refuses the combination: the two settings would contradict each other.
    if (byDigestOnly) {
      throw r.problem(`${key}.pull-from-mirror`, 'cannot be set when the registry sets mirror-by-digest-only');
    }
    pullFromMirror = mode;
  }
  return { location, insecure: r.bool(`${key}.insecure`, t['insecure']), pullFromMirror };
}

function readRegistry(r: FileReader, key: string, value: unknown): RegistryConfig {
  const t = r.table(key, value, [
    'prefix',
    'location',
    'insecure',
    'blocked',
    'mirror',
    'mirror-by-digest-only',
    'pull-from-mirror',
    'proxy',
  ]);
  if (t['proxy'] !== undefined)
    throw r.problem(`${key}.proxy`, 'per-registry proxies are not supported by cri-ts');
  if (t['pull-from-mirror'] !== undefined) {
    throw r.problem(`${key}.pull-from-mirror`, 'may only be set in a [[registry.mirror]] table');
  }
  let location = t['location'] === undefined ? '' : r.location(`${key}.location`, t['location']);
  const rawPrefix = t['prefix'] === undefined ? '' : r.string(`${key}.prefix`, t['prefix']);
  let prefix: string;
  if (rawPrefix === '') {
    if (location === '') throw r.problem(key, 'both prefix and location are unset');
    prefix = location;
  } else if (isWildcard(rawPrefix)) {
    prefix = readWildcard(r, `${key}.prefix`, rawPrefix);
  } else {
    prefix = r.location(`${key}.prefix`, rawPrefix);
    // The man page's default; containers/image refuses it instead, which helps no one.
    if (location === '') location = prefix;
  }
  const mirrorByDigestOnly = r.bool(`${key}.mirror-by-digest-only`, t['mirror-by-digest-only']);
  const mirrors =
    t['mirror'] === undefined
      ? []
      : r
          .tables(`${key}.mirror`, t['mirror'])
          .map((m, i) => readMirror(r, `${key}.mirror[${i}]`, m, mirrorByDigestOnly));
  return {
    prefix,
    location,
    insecure: r.bool(`${key}.insecure`, t['insecure']),
    blocked: r.bool(`${key}.blocked`, t['blocked']),
    mirrors,
    mirrorByDigestOnly,
  };
}

/**
 * Several entries may share a location (one registry under several prefixes); they must then agree on how it
 * is reached, or which setting applies would depend on the name used. Within one file, as containers/image.
 */
function checkConsistent(r: FileReader, registries: RegistryConfig[]): void {
  const seen = new Map<string, RegistryConfig>();
  for (const reg of registries) {
    const where = reg.location === '' ? reg.prefix : reg.location;
    const other = seen.get(where);
    if (other === undefined) {
      seen.set(where, reg);
      continue;
    }
    for (const setting of ['insecure', 'blocked'] as const) {
      if (reg[setting] !== other[setting]) {
        throw r.problem(
          'registry',
          `registry "${where}" is defined more than once with conflicting ${setting} settings`,
        );
      }
    }
  }
}

/** The left-hand side of an alias: a repository name with no registry, tag or digest. */
function readAliasName(r: FileReader, name: string): void {
  const key = `aliases.${JSON.stringify(name)}`;
  if (hasExplicitDomain(name) || name === 'localhost') {
    throw r.problem(key, 'an alias name must be a short name, without a registry');
  }
  if (name.includes(':') || name.includes('@'))
    throw r.problem(key, 'an alias name must not have a tag or digest');
  r.check(key, () => parseReference(name));
}

/** The right-hand side: a fully qualified repository name, stored normalised; "" erases the alias. */
function readAliasTarget(r: FileReader, name: string, value: unknown): string {
  const key = `aliases.${JSON.stringify(name)}`;
  const text = r.string(key, value);
  if (text === '') return '';
  const { path } = r.check(key, () => parseRegistryPrefix(text));
  if (path === '') throw r.invalid(key, value, 'an alias must name a registry and a repository');
  return repositoryName(r.check(key, () => parseReference(text)));
}

function readLayer(file: string, doc: unknown): FileLayer {
  const r = new FileReader(file);
  if (isTable(doc) && doc['registries'] !== undefined) {
    throw r.problem(
      '',
      'the v1 format ([registries.search], [registries.insecure], [registries.block]) is not supported: use ' +
        'unqualified-search-registries and [[registry]] tables (containers-registries.conf(5))',
    );
  }
  const t = r.table('', doc, [
    'unqualified-search-registries',
    'short-name-mode',
    'registry',
    'aliases',
    'credential-helpers',
    'additional-layer-store-auth-helper',
  ]);
  // Credentials come from the CRI request or cri-ts's auth file, which is what "containers-auth.json" means.
  if (t['credential-helpers'] !== undefined) {
    const helpers = r.strings('credential-helpers', t['credential-helpers']);
    const other = helpers.find((h) => h !== 'containers-auth.json');
    if (other !== undefined)
      throw r.problem('credential-helpers', `credential helper "${other}" is not supported by cri-ts`);
  }
  if (t['additional-layer-store-auth-helper'] !== undefined) {
    const helper = r.string('additional-layer-store-auth-helper', t['additional-layer-store-auth-helper']);
    if (helper !== '')
      throw r.problem('additional-layer-store-auth-helper', 'additional layer stores are not supported by cri-ts');
  }

  const layer: FileLayer = { registries: [], aliases: new Map() };
  if (t['unqualified-search-registries'] !== undefined) {
    const key = 'unqualified-search-registries';
    layer.unqualifiedSearchRegistries = r.strings(key, t[key]).map((entry) => {
      const host = r.location(key, entry);
      if (host === '' || host.includes('/')) throw r.invalid(key, entry, 'expected a registry host[:port]');
      return host;
    });
  }
  const mode = t['short-name-mode'];
  if (mode !== undefined && mode !== '') {
    const found = shortNameModes.find((m) => m === mode);
    if (found === undefined)
      throw r.invalid('short-name-mode', mode, 'expected enforcing, permissive or disabled');
    layer.shortNameMode = found;
  }
  if (t['registry'] !== undefined) {
    const all = r.tables('registry', t['registry']).map((v, i) => readRegistry(r, `registry[${i}]`, v));
    checkConsistent(r, all);
    // The first entry for a prefix wins within a file, as containers/image does; later files replace it.
    for (const reg of all) if (!layer.registries.some((e) => e.prefix === reg.prefix)) layer.registries.push(reg);
  }
  if (t['aliases'] !== undefined) {
    const aliases = r.table('aliases', t['aliases'], undefined);
    for (const [name, value] of Object.entries(aliases)) {
      readAliasName(r, name);
      layer.aliases.set(name, readAliasTarget(r, name, value));
    }
  }
  return layer;
}

const errnoCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** The parsed file, or undefined when it does not exist (and `missingOk`). */
async function readFileLayer(file: string, missingOk: boolean): Promise<FileLayer | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (missingOk && errnoCode(err) === 'ENOENT') return undefined;
    throw failedPrecondition(`${file}: cannot read registries configuration: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (err) {
    throw failedPrecondition(`${file}: invalid TOML: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  return readLayer(file, doc);
}

async function dropInFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => !e.isDirectory() && e.name.endsWith('.conf'))
      .map((e) => e.name)
      .sort() // libuv already lists names sorted; the order is part of the format, so say it
      .map((name) => join(dir, name));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw failedPrecondition(`${dir}: cannot read registries drop-in directory: ${(err as Error).message}`);
  }
}

/**
 * Reads `path` and then every `*.conf` in `path + ".d"` in lexical order. A later file replaces [[registry]]
 * entries with the same prefix and aliases with the same name (an empty alias erases it), and replaces
 * unqualified-search-registries and short-name-mode when it sets them. A missing main file or directory is an
 * empty configuration. Problems throw failedPrecondition naming the file and key.
 */
export async function loadRegistriesConf(path: string): Promise<RegistriesConf> {
  const layers: FileLayer[] = [];
  const main = await readFileLayer(path, true);
  if (main !== undefined) layers.push(main);
  for (const file of await dropInFiles(`${path}.d`)) {
    // A drop-in removed between listing and reading is an expected race, not an error.
    const layer = await readFileLayer(file, true);
    if (layer !== undefined) layers.push(layer);
  }

  let unqualifiedSearchRegistries: string[] = [];
  let shortNameMode: ShortNameMode = 'permissive';
  const registries = new Map<string, RegistryConfig>();
  const aliases = new Map<string, string>();
  for (const layer of layers) {
    if (layer.unqualifiedSearchRegistries !== undefined)
      unqualifiedSearchRegistries = layer.unqualifiedSearchRegistries;
    if (layer.shortNameMode !== undefined) shortNameMode = layer.shortNameMode;
    for (const reg of layer.registries) registries.set(reg.prefix, reg);
    for (const [name, target] of layer.aliases) {
      if (target === '') aliases.delete(name);
      else aliases.set(name, target);
    }
  }
  return {
    unqualifiedSearchRegistries,
    shortNameMode,
    registries: [...registries.values()].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0)),
    aliases: Object.fromEntries(aliases),
  };
}

/** The host part of a domain, without a port: what a wildcard prefix is compared with. */
function hostOf(domain: string): string {
  return domain.replace(/:[0-9]+$/, '');
}

/** How much of the reference's name the entry's prefix covers, or -1 when it does not match. */
function matchLength(reg: RegistryConfig, ref: ImageReference): number {
  if (isWildcard(reg.prefix)) {
    return hostOf(ref.domain).endsWith(reg.prefix.slice(1)) ? ref.domain.length : -1;
  }
  const name = repositoryName(ref);
  // On a path boundary only: "a.com/foo" covers "a.com/foo/bar" but not "a.com/foobar" or "a.com:5000/…".
  return name === reg.prefix || name.startsWith(`${reg.prefix}/`) ? reg.prefix.length : -1;
}

/**
 * The entry with the longest prefix, as containers/image (comparing the prefixes' lengths, so a long wildcard
 * beats a short exact prefix); on a tie an exact prefix beats a wildcard.
 */
function findRegistry(conf: RegistriesConf, ref: ImageReference): RegistryConfig | undefined {
  let best: RegistryConfig | undefined;
  for (const reg of conf.registries) {
    if (matchLength(reg, ref) === -1) continue;
    if (
      best === undefined ||
      reg.prefix.length > best.prefix.length ||
      (reg.prefix.length === best.prefix.length && isWildcard(best.prefix) && !isWildcard(reg.prefix))
    ) {
      best = reg;
    }
  }
  return best;
}

/** Splits a rewritten "host[:port]/path" into what to dial and what to ask for there. */
function toSource(
  name: string,
  insecure: boolean,
  mirror: boolean,
  ref: ImageReference,
  prefix: string,
): PullSource {
  const slash = name.indexOf('/');
  const host = slash === -1 ? name : name.slice(0, slash);
  let repository = slash === -1 ? '' : name.slice(slash + 1);
  if (repository === '') {
    throw failedPrecondition(
      `registries.conf prefix "${prefix}" rewrites ${formatReference(ref)} to "${name}", which names no repository`,
    );
  }
  // Docker Hub keeps official images under library/ whatever the name they were reached by.
  if (host === dockerHub && !repository.includes('/')) repository = `library/${repository}`;
  return { endpoint: host === dockerHub ? dockerHubEndpoint : host, repository, insecure, mirror };
}

/**
 * Where to pull `ref` from, in order: the matching entry's mirrors usable for this kind of reference, then its
 * location (the reference itself when nothing matches). Throws failedPrecondition when the entry is blocked.
 */
export function pullSources(conf: RegistriesConf, ref: ImageReference): PullSource[] {
  const reg = findRegistry(conf, ref);
  if (reg === undefined) return [toSource(repositoryName(ref), false, false, ref, '')];
  if (reg.blocked) {
    throw failedPrecondition(
      `pulling ${formatReference(ref)} is blocked by registries.conf prefix "${reg.prefix}"`,
    );
  }
  const name = repositoryName(ref);
  // The part of the name below the matched prefix, which every location is rewritten with.
  const rest = name.slice(matchLength(reg, ref));
  // Tag+digest references pull by digest, so they count as digest pulls (as in containers/image).
  const byDigest = ref.digest !== undefined;
  const mirrors = reg.mirrors.filter((m) =>
    reg.mirrorByDigestOnly
      ? byDigest
      : m.pullFromMirror === 'all' || (m.pullFromMirror === 'digest-only') === byDigest,
  );
  return [
    ...mirrors.map((m) => toSource(m.location + rest, m.insecure, true, ref, reg.prefix)),
    toSource(reg.location === '' ? name : reg.location + rest, reg.insecure, false, ref, reg.prefix),
  ];
}

/**
 * Applies [aliases] to a short name before it is parsed: "busybox:1.36" with the alias busybox →
 * "quay.io/x/busybox" becomes "quay.io/x/busybox:1.36" (containers-registries.conf(5): tags and digests are
 * stripped for the lookup and put back). Anything else, including input that will not parse, is returned as is.
 */
export function resolveShortNameAlias(conf: RegistriesConf, text: string): string {
  let name = text;
  let suffix = '';
  const at = name.indexOf('@');
  if (at !== -1) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  }
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    suffix = name.slice(colon) + suffix;
    name = name.slice(0, colon);
  }
  // Alias names are short names (checked on load), so a registry-qualified name never matches one.
  if (!Object.hasOwn(conf.aliases, name)) return text;
  const target = conf.aliases[name];
  return target === undefined ? text : target + suffix;
}
