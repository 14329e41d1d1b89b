import { invalidArgument } from '../errors/errors.js';

/**
 * An image reference in its normalised, fully qualified form. The grammar and the normalisation follow
 * github.com/distribution/reference (ParseNormalizedNamed), which docker, containerd and the kubelet all use,
 * so that an image pulled as "busybox" is the same image the kubelet later asks about as
 * "docker.io/library/busybox:latest".
 */
export interface ImageReference {
  /** Registry host with an optional port: "docker.io", "localhost:5000", "[::1]:5000". */
  domain: string;
  /** Repository path below the registry, lowercase: "library/busybox". */
  path: string;
  tag?: string;
  digest?: string;
}

const dockerHub = 'docker.io';
const legacyDockerHub = 'index.docker.io';
const officialPrefix = 'library/';
const defaultTag = 'latest';
/** distribution/reference's NameTotalLengthMax, applied to the normalised "domain/path". */
const maxNameLength = 255;
const maxTagLength = 128;

const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainPattern = new RegExp(
  `^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
);
/** Lowercase alphanumerics joined by one '.', one or two '_', or any run of '-'. */
const pathComponentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/**
 * Stricter than the reference grammar (any algorithm, 32+ hex digits): like go-digest, which distribution's
 * parser calls, only algorithms we can verify, with their exact lowercase encodings.
 */
const digestPattern = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const imageIdPattern = /^[a-f0-9]{64}$/;

/** True for "sha256:" + 64 lowercase hex digits or "sha512:" + 128. */
export function isDigest(text: string): boolean {
  return digestPattern.test(text);
}

/**
 * Whether the first path component names a registry: it has a '.' or ':' (a host name, IP address or port),
 * is "localhost", or has upper case (which repository paths never do). This is distribution's rule, which only
 * applies when there is a '/': a lone "localhost:5000" is the Docker Hub image library/localhost, tag 5000.
 */
function isDomainComponent(first: string): boolean {
  return first === 'localhost' || /[.:]/.test(first) || first !== first.toLowerCase();
}

/**
 * Whether a reference names its registry, as opposed to a short name ("busybox", "library/busybox") that
 * Docker Hub, registries.conf aliases or the unqualified-search registries complete. Does not validate.
 */
export function hasExplicitDomain(text: string): boolean {
  const slash = text.indexOf('/');
  return slash !== -1 && isDomainComponent(text.slice(0, slash));
}

/** Checks a repository path; `fail` builds the error that names the whole input. */
function checkPath(path: string, fail: (why: string) => Error): void {
  const components = path.split('/');
  if (components.some((c) => c === '')) {
    throw fail(path === '' ? 'missing repository path' : `empty path component in "${path}"`);
  }
  if (path !== path.toLowerCase()) throw fail(`repository path "${path}" must be lowercase`);
  for (const component of components) {
    if (!pathComponentPattern.test(component)) {
      throw fail(
        `invalid path component "${component}": only lowercase letters, digits and inner separators (. _ __ -) are allowed`,
      );
    }
  }
}

function checkDomain(domain: string, fail: (why: string) => Error): void {
  if (!domainPattern.test(domain)) throw fail(`invalid registry host "${domain}"`);
}

function checkLength(domain: string, path: string, fail: (why: string) => Error): void {
  const length = domain.length + 1 + path.length;
  if (length > maxNameLength) {
    throw fail(`repository name is ${length} characters long, more than ${maxNameLength}`);
  }
}

/**
 * Parses and normalises an image reference: "busybox" → {domain: "docker.io", path: "library/busybox",
 * tag: "latest"}. A reference with both a tag and a digest keeps both (the digest decides what is pulled);
 * "latest" is added only when there is neither. Throws invalidArgument naming the input.
 */
export function parseReference(text: string): ImageReference {
  if (text === '') throw invalidArgument('invalid image reference: must not be empty');
  const fail = (why: string): Error => invalidArgument(`invalid image reference ${JSON.stringify(text)}: ${why}`);
  // Such ids are resolved against the local store by the caller; as a name it would be ambiguous.
  if (imageIdPattern.test(text)) throw fail('a 64-character hex string is an image id, not a reference');

  let name = text;
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at !== -1) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
    if (!isDigest(digest)) {
      throw fail(`malformed digest "${digest}": expected sha256:<64 hex> or sha512:<128 hex>, in lowercase`);
    }
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  // A ':' before the last '/' belongs to a host:port, not to a tag.
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (tag.length > maxTagLength) throw fail(`tag is longer than ${maxTagLength} characters`);
    if (!tagPattern.test(tag)) {
      throw fail(`invalid tag "${tag}": expected letters, digits, '_', '.' and '-', not starting with '.' or '-'`);
    }
  }
  if (name === '') throw fail('missing repository name');

  let domain = dockerHub;
  let path = name;
  const slash = name.indexOf('/');
  if (slash !== -1 && isDomainComponent(name.slice(0, slash))) {
    domain = name.slice(0, slash);
    path = name.slice(slash + 1);
    checkDomain(domain, fail);
    if (domain === legacyDockerHub) domain = dockerHub;
  }
  // Official images live under library/ on Docker Hub only; other registries keep single-component paths.
  if (domain === dockerHub && !path.includes('/')) path = officialPrefix + path;
  checkPath(path, fail);
  checkLength(domain, path, fail);

  const ref: ImageReference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (tag === undefined && digest === undefined) ref.tag = defaultTag;
  return ref;
}

/** "docker.io/library/busybox" */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** "docker.io/library/busybox:latest", "quay.io/x/y@sha256:…", "quay.io/x/y:t@sha256:…" */
export function formatReference(ref: ImageReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${repositoryName(ref)}${tag}${digest}`;
}

/**
 * Parses a registries.conf prefix or location: a registry host[:port] with an optional repository path,
 * written out in full. Unlike parseReference nothing is normalised (containers-registries.conf(5): a Docker
 * Hub prefix must spell out "docker.io/library/…") and a tag or digest is refused. Throws invalidArgument.
 */
export function parseRegistryPrefix(text: string): { domain: string; path: string } {
  const fail = (why: string): Error => invalidArgument(`invalid registry name ${JSON.stringify(text)}: ${why}`);
  if (text === '') throw fail('must not be empty');
  if (text.includes('@')) throw fail('a digest is not supported here');
  const slash = text.indexOf('/');
  const domain = slash === -1 ? text : text.slice(0, slash);
  const path = slash === -1 ? '' : text.slice(slash + 1);
  checkDomain(domain, fail);
  // Without this a bare "myregistry" would be accepted here but could never match a parsed reference.
  if (!isDomainComponent(domain)) {
    throw fail(`"${domain}" is not a registry host: expected a name with a '.' or a port, or localhost`);
  }
  if (slash !== -1) {
    if (path.includes(':')) throw fail('a tag is not supported here');
    checkPath(path, fail);
    checkLength(domain, path, fail);
  }
  return { domain, path };
}
