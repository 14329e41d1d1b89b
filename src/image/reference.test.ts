import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCriError } from '../errors/errors.js';
import {
  formatReference,
  hasExplicitDomain,
  isDigest,
  parseReference,
  parseRegistryPrefix,
  repositoryName,
  type ImageReference,
} from './reference.js';

const sha256 = `sha256:${'a1'.repeat(32)}`;
const sha512 = `sha512:${'0f'.repeat(64)}`;

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseReference(text),
    (err: unknown) => {
      assert.ok(isCriError(err), `expected a CriError for ${JSON.stringify(text)}, got ${String(err)}`);
      assert.equal(err.kind, 'InvalidArgument');
      assert.match(err.message, pattern);
      return true;
    },
    `expected ${JSON.stringify(text)} to be rejected`,
  );
}

describe('parseReference', () => {
  const cases: [string, ImageReference][] = [
    ['busybox', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['busybox:1.36', { domain: 'docker.io', path: 'library/busybox', tag: '1.36' }],
    ['library/busybox', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['docker.io/busybox', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['docker.io/library/busybox:latest', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['index.docker.io/busybox', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['index.docker.io/foo/bar:t', { domain: 'docker.io', path: 'foo/bar', tag: 't' }],
    ['user/app', { domain: 'docker.io', path: 'user/app', tag: 'latest' }],
    ['user/team/app:v2', { domain: 'docker.io', path: 'user/team/app', tag: 'v2' }],
    ['quay.io/app', { domain: 'quay.io', path: 'app', tag: 'latest' }],
    ['registry.k8s.io/pause:3.9', { domain: 'registry.k8s.io', path: 'pause', tag: '3.9' }],
    [
      'gcr.io/k8s-staging-cri-tools/test-image-tags:1',
      { domain: 'gcr.io', path: 'k8s-staging-cri-tools/test-image-tags', tag: '1' },
    ],
    ['localhost/app', { domain: 'localhost', path: 'app', tag: 'latest' }],
    ['localhost:5000/a/b:c', { domain: 'localhost:5000', path: 'a/b', tag: 'c' }],
    [
      '127.0.0.1:5055/registry.k8s.io/pause:3.9',
      { domain: '127.0.0.1:5055', path: 'registry.k8s.io/pause', tag: '3.9' },
    ],
    ['myhost:5000/app', { domain: 'myhost:5000', path: 'app', tag: 'latest' }],
    ['[::1]/app', { domain: '[::1]', path: 'app', tag: 'latest' }],
    ['[::1]:5000/app:1', { domain: '[::1]:5000', path: 'app', tag: '1' }],
    ['[2001:db8::1]:443/ns/app', { domain: '[2001:db8::1]:443', path: 'ns/app', tag: 'latest' }],
    // distribution's rule: an upper-case first component can only be a host.
    ['Example/app', { domain: 'Example', path: 'app', tag: 'latest' }],
    ['Registry.Example.COM/app', { domain: 'Registry.Example.COM', path: 'app', tag: 'latest' }],
    // Without a '/' there is no host: this is Docker Hub's library/localhost at tag 5000.
    ['localhost:5000', { domain: 'docker.io', path: 'library/localhost', tag: '5000' }],
    ['a.b', { domain: 'docker.io', path: 'library/a.b', tag: 'latest' }],
    ['quay.io/a_b/c__d/e-f/g--h.i', { domain: 'quay.io', path: 'a_b/c__d/e-f/g--h.i', tag: 'latest' }],
    ['busybox:Tag_1.-x', { domain: 'docker.io', path: 'library/busybox', tag: 'Tag_1.-x' }],
    ['busybox:_x', { domain: 'docker.io', path: 'library/busybox', tag: '_x' }],
    [`busybox@${sha256}`, { domain: 'docker.io', path: 'library/busybox', digest: sha256 }],
    [`quay.io/x/y@${sha512}`, { domain: 'quay.io', path: 'x/y', digest: sha512 }],
    [`busybox:1.36@${sha256}`, { domain: 'docker.io', path: 'library/busybox', tag: '1.36', digest: sha256 }],
    [`localhost:5000/a:b@${sha256}`, { domain: 'localhost:5000', path: 'a', tag: 'b', digest: sha256 }],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${text}`, () => {
      assert.deepEqual(parseReference(text), expected);
    });
  }

  it('adds no tag to a digest reference and sets no undefined properties', () => {
    const ref = parseReference(`busybox@${sha256}`);
    assert.equal(Object.hasOwn(ref, 'tag'), false);
    assert.equal(Object.hasOwn(parseReference('busybox'), 'digest'), false);
  });

  it('accepts a tag of exactly 128 characters and a name of exactly 255', () => {
    const tag = 'a'.repeat(128);
    assert.equal(parseReference(`busybox:${tag}`).tag, tag);
    const path = `${'a'.repeat(100)}/${'b'.repeat(146)}`; // "quay.io/" is 8 more: 255 in all
    assert.equal(repositoryName(parseReference(`quay.io/${path}`)).length, 255);
  });

  it('refuses empty input', () => rejects('', /must not be empty/));
  it('refuses a bare image id', () => rejects('f'.repeat(64), /image id, not a reference/));
  it('refuses upper case in the path, naming it', () => {
    rejects('Busybox', /"library\/Busybox" must be lowercase/);
    rejects('docker.io/Library/busybox', /must be lowercase/);
    rejects('quay.io/org/App:1', /"org\/App" must be lowercase/);
    rejects('localhost:5000/A', /must be lowercase/);
  });
  it('refuses bad characters', () => {
    rejects('busy box', /invalid path component "busy box"/);
    rejects(' busybox', /invalid path component/);
    rejects('quay.io/a$b', /invalid path component "a\$b"/);
    rejects('quay.io/a+b', /invalid path component/);
    rejects('quay.io/a...b', /invalid path component/);
    rejects('quay.io/a___b', /invalid path component/);
    rejects('ex_ample.com/app', /invalid registry host "ex_ample.com"/);
    rejects('-bad.com/app', /invalid registry host/);
    rejects('bad-.com/app', /invalid registry host/);
    rejects('a.com:port/app', /invalid registry host "a.com:port"/);
    rejects('[zz::1]/app', /invalid registry host/);
    rejects('a.com:5000:6000/app', /invalid registry host/);
    rejects('http://quay.io/app', /invalid/);
  });
  it('refuses leading and trailing separators', () => {
    rejects('quay.io/-app', /invalid path component "-app"/);
    rejects('quay.io/app-', /invalid path component "app-"/);
    rejects('quay.io/.app', /invalid path component/);
    rejects('quay.io/app_', /invalid path component/);
    rejects('_app', /invalid path component/);
  });
  it('refuses empty path components', () => {
    rejects('quay.io//app', /empty path component/);
    rejects('quay.io/app/', /empty path component/);
    rejects('/app', /empty path component/);
    rejects('quay.io/', /missing repository path/);
    rejects('user//app', /empty path component/);
  });
  it('refuses bad tags', () => {
    rejects(`busybox:${'a'.repeat(129)}`, /longer than 128/);
    rejects('busybox:', /invalid tag ""/);
    rejects('busybox:.x', /invalid tag "\.x"/);
    rejects('busybox:-x', /invalid tag/);
    rejects('busybox:a+b', /invalid tag "a\+b"/);
    rejects('busybox:a:b', /invalid path component|invalid tag/);
    rejects(':latest', /missing repository name/);
  });
  it('refuses malformed digests', () => {
    rejects('busybox@', /malformed digest ""/);
    rejects('busybox@sha256:abc', /malformed digest "sha256:abc"/);
    rejects(`busybox@${sha256.toUpperCase()}`, /malformed digest/);
    rejects(`busybox@sha256:${'A1'.repeat(32)}`, /malformed digest/);
    rejects(`busybox@md5:${'a'.repeat(32)}`, /malformed digest/);
    rejects(`busybox@sha512:${'a'.repeat(64)}`, /malformed digest/);
    rejects(`busybox@${sha256}@${sha256}`, /malformed digest/);
    rejects(`@${sha256}`, /missing repository name/);
  });
  it('refuses names longer than 255 characters after normalisation', () => {
    rejects(`quay.io/${'a'.repeat(100)}/${'b'.repeat(147)}`, /256 characters long, more than 255/);
    // 247 characters as typed, but "docker.io/library/" makes it 265.
    rejects('a'.repeat(247), /265 characters long/);
  });
  it('names the input in the message', () => rejects('quay.io/A', /^invalid image reference "quay\.io\/A": /));
});

describe('formatReference and repositoryName', () => {
  it('round-trips the normalised forms', () => {
    for (const text of [
      'docker.io/library/busybox:latest',
      'localhost:5000/a/b:c',
      '127.0.0.1:5055/registry.k8s.io/pause:3.9',
      `quay.io/x/y@${sha256}`,
      `quay.io/x/y:t@${sha256}`,
      '[::1]:5000/app:1',
    ]) {
      assert.equal(formatReference(parseReference(text)), text);
    }
  });
  it('formats normalised short names in full', () => {
    assert.equal(formatReference(parseReference('busybox')), 'docker.io/library/busybox:latest');
    assert.equal(formatReference(parseReference(`busybox@${sha256}`)), `docker.io/library/busybox@${sha256}`);
    assert.equal(repositoryName(parseReference('busybox:1')), 'docker.io/library/busybox');
    assert.equal(repositoryName(parseReference('localhost:5000/a/b:c')), 'localhost:5000/a/b');
  });
  it('formats a reference without tag or digest as its name', () => {
    assert.equal(formatReference({ domain: 'quay.io', path: 'x' }), 'quay.io/x');
  });
});

describe('isDigest', () => {
  it('accepts sha256 and sha512 in lowercase hex of the right length', () => {
    assert.equal(isDigest(sha256), true);
    assert.equal(isDigest(sha512), true);
  });
  it('refuses everything else', () => {
    for (const text of [
      '',
      'sha256:',
      'a1'.repeat(32),
      `sha256:${'a1'.repeat(31)}`,
      `sha256:${'a1'.repeat(33)}`,
      `sha256:${'A1'.repeat(32)}`,
      `sha256:${'g1'.repeat(32)}`,
      `SHA256:${'a1'.repeat(32)}`,
      `sha512:${'a1'.repeat(32)}`,
      `sha384:${'a1'.repeat(48)}`,
      ` ${sha256}`,
      `${sha256}\n`,
    ]) {
      assert.equal(isDigest(text), false, JSON.stringify(text));
    }
  });
});

describe('hasExplicitDomain', () => {
  it('tells registry-qualified names from short names', () => {
    for (const text of ['quay.io/a', 'localhost/a', 'host:5000/a', '[::1]/a', 'Upper/a', 'docker.io/busybox']) {
      assert.equal(hasExplicitDomain(text), true, text);
    }
    for (const text of ['busybox', 'busybox:1', 'library/busybox', 'localhost', 'localhost:5000', 'a.b']) {
      assert.equal(hasExplicitDomain(text), false, text);
    }
  });
});

describe('parseRegistryPrefix', () => {
  it('splits host and path without normalising', () => {
    assert.deepEqual(parseRegistryPrefix('registry.k8s.io'), { domain: 'registry.k8s.io', path: '' });
    assert.deepEqual(parseRegistryPrefix('docker.io/busybox'), { domain: 'docker.io', path: 'busybox' });
    assert.deepEqual(parseRegistryPrefix('index.docker.io'), { domain: 'index.docker.io', path: '' });
    assert.deepEqual(parseRegistryPrefix('127.0.0.1:5055/registry.k8s.io'), {
      domain: '127.0.0.1:5055',
      path: 'registry.k8s.io',
    });
    assert.deepEqual(parseRegistryPrefix('[::1]:5000/a/b'), { domain: '[::1]:5000', path: 'a/b' });
    assert.deepEqual(parseRegistryPrefix('localhost'), { domain: 'localhost', path: '' });
  });
  it('refuses what cannot be a registry prefix', () => {
    for (const [text, pattern] of [
      ['', /must not be empty/],
      ['myregistry', /not a registry host/],
      ['myregistry/app', /not a registry host/],
      ['a.com/app:1', /a tag is not supported/],
      [`a.com/app@${sha256}`, /a digest is not supported/],
      ['a.com/App', /must be lowercase/],
      ['a.com//app', /empty path component/],
      ['a.com/', /missing repository path/],
      ['https://a.com', /invalid registry host/],
      ['a_b.com', /invalid registry host/],
    ] as const) {
      assert.throws(
        () => parseRegistryPrefix(text),
        (err: unknown) => isCriError(err) && err.kind === 'InvalidArgument' && pattern.test(err.message),
        text,
      );
    }
  });
});
