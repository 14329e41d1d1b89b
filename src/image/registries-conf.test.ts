import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isCriError } from '../errors/errors.js';
import { parseReference } from './reference.js';
import {
  loadRegistriesConf,
  pullSources,
  resolveShortNameAlias,
  type PullSource,
  type RegistriesConf,
  type RegistryConfig,
} from './registries-conf.js';

const scratch = await mkdtemp(join(tmpdir(), 'cri-ts-registries-'));
after(() => rm(scratch, { recursive: true, force: true }));
let n = 0;

/** A fresh registries.conf (undefined: absent) with drop-ins (name → text) in registries.conf.d. */
async function confFile(main: string | undefined, dropIns: Record<string, string> = {}): Promise<string> {
  const dir = join(scratch, String(n++));
  await mkdir(join(dir, 'registries.conf.d'), { recursive: true });
  const path = join(dir, 'registries.conf');
  if (main !== undefined) await writeFile(path, main);
  for (const [name, text] of Object.entries(dropIns)) await writeFile(join(dir, 'registries.conf.d', name), text);
  return path;
}

const load = async (main: string | undefined, dropIns: Record<string, string> = {}): Promise<RegistriesConf> =>
  loadRegistriesConf(await confFile(main, dropIns));

async function refuses(main: string, pattern: RegExp, dropIns: Record<string, string> = {}): Promise<void> {
  const path = await confFile(main, dropIns);
  await assert.rejects(loadRegistriesConf(path), (err: unknown) => {
    assert.ok(isCriError(err), `expected a CriError, got ${String(err)}`);
    assert.equal(err.kind, 'FailedPrecondition');
    assert.match(err.message, pattern);
    return true;
  });
}

const empty: RegistriesConf = {
  unqualifiedSearchRegistries: [],
  shortNameMode: 'permissive',
  registries: [],
  aliases: {},
};

function registry(prefix: string, over: Partial<RegistryConfig> = {}): RegistryConfig {
  return {
    prefix,
    location: prefix,
    insecure: false,
    blocked: false,
    mirrors: [],
    mirrorByDigestOnly: false,
    ...over,
  };
}

const conf = (...registries: RegistryConfig[]): RegistriesConf => ({ ...empty, registries });
const sources = (c: RegistriesConf, text: string): PullSource[] => pullSources(c, parseReference(text));
const source = (endpoint: string, repository: string, insecure = false, mirror = false): PullSource => ({
  endpoint,
  repository,
  insecure,
  mirror,
});
const digest = `sha256:${'ab'.repeat(32)}`;

describe('loadRegistriesConf', () => {
  it('gives an empty configuration when the file is missing', async () => {
    assert.deepEqual(await load(undefined), empty);
    assert.deepEqual(await loadRegistriesConf(join(scratch, 'nowhere', 'registries.conf')), empty);
  });

  it('gives an empty configuration for an empty or comment-only file', async () => {
    assert.deepEqual(await load(''), empty);
    assert.deepEqual(await load('# unqualified-search-registries = ["example.com"]\n'), empty);
  });

  it('reads the conformance harness mapping and pulls critest images from the local registry', async () => {
    const c = await load(
      '[[registry]]\nprefix = "registry.k8s.io"\nlocation = "127.0.0.1:5055/registry.k8s.io"\ninsecure = true\n',
    );
    assert.deepEqual(c.registries, [
      registry('registry.k8s.io', { location: '127.0.0.1:5055/registry.k8s.io', insecure: true }),
    ]);
    assert.deepEqual(sources(c, 'registry.k8s.io/pause:3.9'), [
      source('127.0.0.1:5055', 'registry.k8s.io/pause', true, false),
    ]);
  });

  it('reads every v2 setting', async () => {
    const c = await load(`
unqualified-search-registries = ["example.com", "quay.io/", "localhost:5000"]
short-name-mode = "enforcing"
credential-helpers = ["containers-auth.json"]

[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.com/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true
pull-from-mirror = "tag-only"

[[registry]]
location = "registry.com/"
mirror-by-digest-only = true
blocked = true

[[registry.mirror]]
location = "mirror.registry.com"

[[registry]]
prefix = "*.wild.example.org"

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"centos/python-27" = "quay.io/centos7/python-27"
"alpine" = "docker.io/alpine"
`);
    assert.deepEqual(c, {
      unqualifiedSearchRegistries: ['example.com', 'quay.io', 'localhost:5000'],
      shortNameMode: 'enforcing',
      registries: [
        { ...registry('*.wild.example.org'), location: '' },
        registry('example.com/foo', {
          location: 'internal-registry-for-example.com/bar',
          mirrors: [
            { location: 'example-mirror-0.local/mirror-for-foo', insecure: false, pullFromMirror: 'all' },
            { location: 'example-mirror-1.local/mirrors/foo', insecure: true, pullFromMirror: 'tag-only' },
          ],
        }),
        registry('registry.com', {
          blocked: true,
          mirrorByDigestOnly: true,
          mirrors: [{ location: 'mirror.registry.com', insecure: false, pullFromMirror: 'all' }],
        }),
      ],
      aliases: {
        fedora: 'registry.fedoraproject.org/fedora',
        'centos/python-27': 'quay.io/centos7/python-27',
        alpine: 'docker.io/library/alpine',
      },
    });
  });

  it('defaults location to prefix and trims trailing slashes', async () => {
    const c = await load('[[registry]]\nprefix = "quay.io/org/"\ninsecure = true\n');
    assert.deepEqual(c.registries, [registry('quay.io/org', { insecure: true })]);
  });

  it('keeps the first entry for a prefix repeated within one file', async () => {
    const c = await load(
      '[[registry]]\nprefix = "a.com"\nlocation = "first.com"\n[[registry]]\nprefix = "a.com"\nlocation = "second.com"\n',
    );
    assert.deepEqual(c.registries, [registry('a.com', { location: 'first.com' })]);
  });

  it('merges drop-ins in lexical order over the main file', async () => {
    const c = await load(
      `unqualified-search-registries = ["main.com"]
short-name-mode = "disabled"
[[registry]]
prefix = "a.com"
insecure = true
[[registry]]
prefix = "b.com"
blocked = true
[aliases]
"one" = "main.com/one"
"two" = "main.com/two"
"three" = "main.com/three"
`,
      {
        '20-second.conf': `[[registry]]
prefix = "a.com"
location = "mirror.a.com"
[aliases]
"two" = "second.com/two"
`,
        '10-first.conf': `unqualified-search-registries = ["first.com", "other.com"]
[[registry]]
prefix = "a.com"
location = "ignored.com"
[[registry]]
prefix = "c.com"
[aliases]
"two" = "first.com/two"
"three" = ""
"four" = "first.com/four"
`,
        '30-third.conf': 'short-name-mode = ""\n',
        'notes.txt': 'this is not = read at all [',
        'old.conf.bak': 'neither = is [ this',
      },
    );
    assert.deepEqual(c, {
      unqualifiedSearchRegistries: ['first.com', 'other.com'],
      shortNameMode: 'disabled',
      registries: [
        registry('a.com', { location: 'mirror.a.com' }),
        registry('b.com', { blocked: true }),
        registry('c.com'),
      ],
      aliases: { one: 'main.com/one', two: 'second.com/two', four: 'first.com/four' },
    });
  });

  it('reads drop-ins in lexical order whatever order the directory lists them in', async () => {
    // Each file erases the alias the previous one set: only strict lexical order leaves just the last.
    const dropIns: Record<string, string> = {};
    for (let k = 11; k >= 0; k--) {
      const erase = k > 0 ? `"a${k - 1}" = ""\n` : '';
      dropIns[`${String(k).padStart(2, '0')}.conf`] = `[aliases]\n"a${k}" = "r.com/a${k}"\n${erase}`;
    }
    assert.deepEqual((await load(undefined, dropIns)).aliases, { a11: 'r.com/a11' });
  });

  it('lets a drop-in clear the search registries with an empty list and set the mode', async () => {
    const c = await load('unqualified-search-registries = ["main.com"]\n', {
      '50.conf': 'unqualified-search-registries = []\nshort-name-mode = "enforcing"\n',
    });
    assert.deepEqual(c.unqualifiedSearchRegistries, []);
    assert.equal(c.shortNameMode, 'enforcing');
  });

  it('reads drop-ins when the main file is missing, and skips directories', async () => {
    const path = await confFile(undefined, { '10.conf': '[[registry]]\nprefix = "a.com"\n' });
    await mkdir(join(`${path}.d`, 'sub.conf'));
    await writeFile(join(`${path}.d`, 'sub.conf', 'x.conf'), 'broken = [');
    assert.deepEqual((await loadRegistriesConf(path)).registries, [registry('a.com')]);
  });

  it('refuses invalid TOML, naming the file', async () => {
    await refuses('unqualified-search-registries = [\n', /registries\.conf: invalid TOML/);
    await refuses('', /registries\.conf\.d\/20-bad\.conf: invalid TOML/, { '20-bad.conf': 'a = = b' });
    await refuses('[aliases]\n"a" = "x.com/a"\n"a" = "x.com/b"\n', /invalid TOML/);
  });

  it('refuses the v1 format with a clear message', async () => {
    await refuses("[registries.search]\nregistries = ['registry1.com']\n", /the v1 format .* is not supported/);
    await refuses('[[registry]]\nprefix = "a.com"\n[registries.block]\nregistries = []\n', /v1 format/);
    await refuses('', /99\.conf: the v1 format/, { '99.conf': '[registries.insecure]\nregistries = ["x.com"]\n' });
  });

  it('refuses unknown keys, naming file and key', async () => {
    await refuses(
      'unqualified-search-registry = ["a.com"]\n',
      /registries\.conf: key "unqualified-search-registry": unknown key/,
    );
    await refuses(
      '[[registry]]\nprefix = "a.com"\n[[registry]]\nlocaton = "b.com"\n',
      /key "registry\[1\]\.locaton": unknown key/,
    );
    await refuses(
      '[[registry]]\nprefix = "a.com"\n[[registry.mirror]]\nlocation = "m.com"\nsecure = true\n',
      /key "registry\[0\]\.mirror\[0\]\.secure": unknown key/,
    );
    await refuses('', /10\.conf: key "bogus": unknown key/, { '10.conf': 'bogus = 1\n' });
  });

  it('refuses values of the wrong type or out of range', async () => {
    await refuses(
      '[[registry]]\nprefix = "a.com"\ninsecure = "yes"\n',
      /key "registry\[0\]\.insecure": invalid value "yes": expected true or false/,
    );
    await refuses(
      '[[registry]]\nprefix = "a.com"\nblocked = 1\n',
      /"registry\[0\]\.blocked".*expected true or false/,
    );
    await refuses('[[registry]]\nprefix = 5\n', /"registry\[0\]\.prefix".*expected a string/);
    await refuses('unqualified-search-registries = "a.com"\n', /expected an array of strings/);
    await refuses('short-name-mode = "prompt"\n', /key "short-name-mode": invalid value "prompt"/);
    await refuses('registry = 3\n', /key "registry".*expected an array of tables/);
    await refuses('[registry]\nprefix = "a.com"\n', /key "registry".*expected an array of tables/);
    await refuses('aliases = ["a"]\n', /key "aliases".*expected a table/);
    await refuses('[aliases]\n"a" = 1\n', /key "aliases\."a"".*expected a string/);
    await refuses(
      '[[registry]]\nprefix = "a.com"\n[[registry.mirror]]\nlocation = "m.com"\npull-from-mirror = "sometimes"\n',
      /"registry\[0\]\.mirror\[0\]\.pull-from-mirror": invalid value "sometimes"/,
    );
  });

  it('refuses malformed prefixes and locations', async () => {
    await refuses(
      '[[registry]]\nlocation = "https://a.com"\n',
      /"registry\[0\]\.location".*URL schemes are not supported/,
    );
    await refuses('[[registry]]\nprefix = "http://a.com"\n', /"registry\[0\]\.prefix".*URL schemes/);
    await refuses('[[registry]]\nprefix = "a.com/Foo"\n', /"registry\[0\]\.prefix".*must be lowercase/);
    await refuses('[[registry]]\nprefix = "a.com/foo:1"\n', /a tag is not supported/);
    await refuses(`[[registry]]\nprefix = "a.com/foo@${digest}"\n`, /a digest is not supported/);
    await refuses('[[registry]]\nprefix = "myregistry"\n', /not a registry host/);
    await refuses('[[registry]]\ninsecure = true\n', /key "registry\[0\]": both prefix and location are unset/);
    await refuses('[[registry]]\nprefix = "*.example.com/foo"\n', /wildcard prefix must be "\*\.domain"/);
    await refuses('[[registry]]\nprefix = "*.example.com:5000"\n', /wildcard prefix/);
    await refuses('[[registry]]\nprefix = "*.*.example.com"\n', /wildcard prefix/);
    await refuses('[[registry]]\nprefix = "example.*.com"\n', /"registry\[0\]\.prefix"/);
    await refuses(
      '[[registry]]\nprefix = "a.com"\n[[registry.mirror]]\ninsecure = true\n',
      /"registry\[0\]\.mirror\[0\]\.location": a mirror needs a location/,
    );
    await refuses('unqualified-search-registries = ["quay.io/org"]\n', /expected a registry host\[:port\]/);
    await refuses('unqualified-search-registries = [""]\n', /expected a registry host/);
    await refuses('unqualified-search-registries = ["search"]\n', /not a registry host/);
  });

  it('refuses contradictory and unsupported settings', async () => {
    await refuses(
      '[[registry]]\nprefix = "a.com"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.com"\npull-from-mirror = "all"\n',
      /cannot be set when the registry sets mirror-by-digest-only/,
    );
    await refuses(
      '[[registry]]\nprefix = "a.com"\npull-from-mirror = "all"\n',
      /only be set in a \[\[registry\.mirror\]\]/,
    );
    await refuses(
      '[[registry]]\nprefix = "a.com"\nproxy = "http://p:3128"\n',
      /"registry\[0\]\.proxy": .*not supported/,
    );
    await refuses(
      '[[registry]]\nprefix = "a.com"\n[[registry.mirror]]\nlocation = "m.com"\nproxy = "socks5://p"\n',
      /"registry\[0\]\.mirror\[0\]\.proxy"/,
    );
    await refuses(
      'credential-helpers = ["containers-auth.json", "pass"]\n',
      /credential helper "pass" is not supported/,
    );
    await refuses('additional-layer-store-auth-helper = "helper"\n', /additional layer stores are not supported/);
    await refuses(
      '[[registry]]\nprefix = "a.com/x"\nlocation = "real.com"\ninsecure = true\n[[registry]]\nprefix = "a.com/y"\nlocation = "real.com"\n',
      /registry "real\.com" is defined more than once with conflicting insecure settings/,
    );
  });

  it('accepts settings that change nothing for cri-ts', async () => {
    assert.deepEqual(await load('additional-layer-store-auth-helper = ""\ncredential-helpers = []\n'), empty);
  });

  it('validates aliases', async () => {
    await refuses(
      '[aliases]\n"quay.io/app" = "quay.io/x/app"\n',
      /key "aliases\."quay\.io\/app"": .*without a registry/,
    );
    await refuses('[aliases]\n"localhost" = "quay.io/x/app"\n', /without a registry/);
    await refuses('[aliases]\n"app:1" = "quay.io/x/app"\n', /must not have a tag or digest/);
    await refuses('[aliases]\n"App" = "quay.io/x/app"\n', /must be lowercase/);
    await refuses('[aliases]\n"app" = "x/app"\n', /"aliases\."app"".*not a registry host/);
    await refuses('[aliases]\n"app" = "quay.io"\n', /must name a registry and a repository/);
    await refuses('[aliases]\n"app" = "quay.io/x/app:1"\n', /a tag is not supported/);
  });
});

describe('pullSources', () => {
  it('pulls from the reference itself when no entry matches', () => {
    assert.deepEqual(sources(empty, 'quay.io/org/app:1'), [source('quay.io', 'org/app')]);
    assert.deepEqual(sources(empty, 'localhost:5000/a/b:c'), [source('localhost:5000', 'a/b')]);
    assert.deepEqual(sources(conf(registry('other.com')), '[::1]:5000/app'), [source('[::1]:5000', 'app')]);
  });

  it("dials Docker Hub's API host for docker.io", () => {
    assert.deepEqual(sources(empty, 'busybox'), [source('registry-1.docker.io', 'library/busybox')]);
    assert.deepEqual(sources(empty, 'user/app@' + digest), [source('registry-1.docker.io', 'user/app')]);
  });

  it('matches prefixes on path boundaries only', () => {
    const c = conf(registry('a.com/foo', { location: 'b.com/bar', insecure: true }));
    assert.deepEqual(sources(c, 'a.com/foo'), [source('b.com', 'bar', true)]);
    assert.deepEqual(sources(c, 'a.com/foo/x/y:1'), [source('b.com', 'bar/x/y', true)]);
    assert.deepEqual(sources(c, 'a.com/foobar'), [source('a.com', 'foobar')]);
    assert.deepEqual(sources(conf(registry('a.com')), 'a.com:5000/x'), [source('a.com:5000', 'x')]);
  });

  it('uses the longest matching prefix', () => {
    const c = conf(
      registry('a.com', { location: 'one.com' }),
      registry('a.com/foo/bar', { location: 'three.com/z' }),
      registry('a.com/foo', { location: 'two.com/y' }),
    );
    assert.deepEqual(sources(c, 'a.com/foo/bar/baz'), [source('three.com', 'z/baz')]);
    assert.deepEqual(sources(c, 'a.com/foo/qux'), [source('two.com', 'y/qux')]);
    assert.deepEqual(sources(c, 'a.com/other'), [source('one.com', 'other')]);
  });

  it('lists usable mirrors first, then the location', () => {
    const c = conf(
      registry('example.com/foo', {
        location: 'internal.example.com/bar',
        mirrors: [
          { location: 'mirror-0.local/mirror-for-foo', insecure: false, pullFromMirror: 'all' },
          { location: 'mirror-1.local:5000/mirrors/foo', insecure: true, pullFromMirror: 'all' },
        ],
      }),
    );
    assert.deepEqual(sources(c, 'example.com/foo/image:latest'), [
      source('mirror-0.local', 'mirror-for-foo/image', false, true),
      source('mirror-1.local:5000', 'mirrors/foo/image', true, true),
      source('internal.example.com', 'bar/image'),
    ]);
  });

  it('honours pull-from-mirror per mirror, counting tag+digest as a digest pull', () => {
    const c = conf(
      registry('a.com', {
        mirrors: [
          { location: 'digests.com', insecure: false, pullFromMirror: 'digest-only' },
          { location: 'tags.com', insecure: false, pullFromMirror: 'tag-only' },
          { location: 'both.com', insecure: false, pullFromMirror: 'all' },
        ],
      }),
    );
    const endpoints = (text: string): string[] => sources(c, text).map((s) => s.endpoint);
    assert.deepEqual(endpoints('a.com/x:1'), ['tags.com', 'both.com', 'a.com']);
    assert.deepEqual(endpoints(`a.com/x@${digest}`), ['digests.com', 'both.com', 'a.com']);
    assert.deepEqual(endpoints(`a.com/x:1@${digest}`), ['digests.com', 'both.com', 'a.com']);
  });

  it('uses mirrors only for digests under mirror-by-digest-only', () => {
    const c = conf(
      registry('a.com', {
        mirrorByDigestOnly: true,
        mirrors: [{ location: 'm.com/a', insecure: true, pullFromMirror: 'all' }],
      }),
    );
    assert.deepEqual(sources(c, 'a.com/x:1'), [source('a.com', 'x')]);
    assert.deepEqual(sources(c, `a.com/x@${digest}`), [source('m.com', 'a/x', true, true), source('a.com', 'x')]);
  });

  it('refuses blocked references, naming them', () => {
    const c = conf(registry('evil.com', { blocked: true }), registry('ok.com/x'));
    assert.throws(
      () => sources(c, 'evil.com/app:1'),
      (err: unknown) =>
        isCriError(err) &&
        err.kind === 'FailedPrecondition' &&
        /evil\.com\/app:1 is blocked by registries\.conf prefix "evil\.com"/.test(err.message),
    );
    assert.deepEqual(sources(c, 'ok.com/x/y'), [source('ok.com', 'x/y')]);
  });

  it('matches wildcard prefixes on subdomains at any depth and any port', () => {
    const c = conf({ ...registry('*.example.com'), location: '', insecure: true });
    assert.deepEqual(sources(c, 'a.example.com/x'), [source('a.example.com', 'x', true)]);
    assert.deepEqual(sources(c, 'a.b.example.com:5000/x/y'), [source('a.b.example.com:5000', 'x/y', true)]);
    assert.deepEqual(sources(c, 'example.com/x'), [source('example.com', 'x')]);
    assert.deepEqual(sources(c, 'badexample.com/x'), [source('badexample.com', 'x')]);
    assert.deepEqual(sources(c, 'a.example.com.evil.org/x'), [source('a.example.com.evil.org', 'x')]);
  });

  it('rewrites the whole host of a wildcard match when it has a location', () => {
    const c = conf({
      ...registry('*.example.com'),
      location: 'cache.local/ex',
      mirrors: [{ location: 'm.local', insecure: false, pullFromMirror: 'all' }],
    });
    assert.deepEqual(sources(c, 'a.example.com:443/x'), [
      source('m.local', 'x', false, true),
      source('cache.local', 'ex/x'),
    ]);
  });

  it('prefers a longer wildcard over a shorter exact prefix, and an exact prefix on a tie', () => {
    const longWild = conf(registry('b.com'), { ...registry('*.a.b.com'), location: 'wild.com' });
    assert.deepEqual(sources(longWild, 'x.a.b.com/i'), [source('wild.com', 'i')]);
    const tie = conf(
      { ...registry('*.b.com'), location: 'wild.com' },
      registry('a.b.com', { location: 'exact.com' }),
    );
    assert.deepEqual(sources(tie, 'a.b.com/i'), [source('exact.com', 'i')]);
    const tieReversed = conf(registry('a.b.com', { location: 'exact.com' }), {
      ...registry('*.b.com'),
      location: 'wild.com',
    });
    assert.deepEqual(sources(tieReversed, 'a.b.com/i'), [source('exact.com', 'i')]);
  });

  it('maps a rewrite onto docker.io to the Hub API host and library/', () => {
    const c = conf(registry('mirror.local/hub', { location: 'docker.io' }));
    assert.deepEqual(sources(c, 'mirror.local/hub/busybox'), [source('registry-1.docker.io', 'library/busybox')]);
    assert.deepEqual(sources(c, 'mirror.local/hub/user/app'), [source('registry-1.docker.io', 'user/app')]);
  });

  it('mirrors Docker Hub when the prefix spells out library/', () => {
    const c = conf(
      registry('docker.io/library', {
        mirrors: [{ location: 'hub-cache.local:5000/library', insecure: true, pullFromMirror: 'all' }],
      }),
    );
    assert.deepEqual(sources(c, 'busybox:1.36'), [
      source('hub-cache.local:5000', 'library/busybox', true, true),
      source('registry-1.docker.io', 'library/busybox'),
    ]);
  });

  it('refuses a rewrite that leaves no repository', () => {
    const c = conf(registry('a.com/app', { location: 'b.com' }));
    assert.throws(
      () => sources(c, 'a.com/app:1'),
      (err: unknown) =>
        isCriError(err) &&
        err.kind === 'FailedPrecondition' &&
        /a\.com\/app:1 to "b\.com", which names no repository/.test(err.message),
    );
  });
});

describe('resolveShortNameAlias', () => {
  const c: RegistriesConf = {
    ...empty,
    aliases: { busybox: 'quay.io/mirror/busybox', 'centos/python-27': 'quay.io/centos7/python-27' },
  };

  it('replaces an aliased short name, keeping its tag and digest', () => {
    assert.equal(resolveShortNameAlias(c, 'busybox'), 'quay.io/mirror/busybox');
    assert.equal(resolveShortNameAlias(c, 'busybox:1.36'), 'quay.io/mirror/busybox:1.36');
    assert.equal(resolveShortNameAlias(c, `busybox@${digest}`), `quay.io/mirror/busybox@${digest}`);
    assert.equal(resolveShortNameAlias(c, `busybox:1@${digest}`), `quay.io/mirror/busybox:1@${digest}`);
    assert.equal(resolveShortNameAlias(c, 'centos/python-27:3'), 'quay.io/centos7/python-27:3');
  });

  it('leaves everything else alone', () => {
    for (const text of [
      'alpine',
      'alpine:3',
      'library/busybox',
      'docker.io/busybox',
      'quay.io/busybox',
      'localhost/busybox',
      'centos',
      'constructor',
      'toString',
      '__proto__',
      '',
      'f'.repeat(64),
    ]) {
      assert.equal(resolveShortNameAlias(c, text), text, text);
    }
  });

  it('resolves aliases read from a file', async () => {
    const loaded = await load('[aliases]\n"alpine" = "docker.io/alpine"\n');
    assert.equal(resolveShortNameAlias(loaded, 'alpine:3'), 'docker.io/library/alpine:3');
  });
});
