import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { credentialsFromCri, credentialsFromFile, parseChallenge } from './registry-auth.js';

const dir = await mkdtemp(join(tmpdir(), 'cri-ts-auth-'));
after(() => rm(dir, { recursive: true, force: true }));
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const none = { username: '', password: '', auth: '', identity_token: '', registry_token: '' };

describe('parseChallenge', () => {
  it('reads bearer parameters, including quoted commas', () => {
    assert.deepEqual(
      parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"'),
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' },
      },
    );
  });
  it('reads basic and ignores other schemes', () => {
    assert.equal(parseChallenge('Basic realm="Registry Realm"')?.scheme, 'basic');
    assert.equal(parseChallenge('Negotiate abc'), undefined);
    assert.equal(parseChallenge(null), undefined);
  });
});

describe('credentialsFromCri', () => {
  it('prefers registry token, then identity token, then user/password, then auth', () => {
    assert.equal(credentialsFromCri(null), undefined);
    assert.equal(credentialsFromCri(none), undefined);
    assert.deepEqual(credentialsFromCri({ ...none, registry_token: 't', username: 'u' }), {
      kind: 'bearer',
      token: 't',
    });
    assert.deepEqual(credentialsFromCri({ ...none, identity_token: 'i', username: 'u' }), {
      kind: 'identity',
      username: 'u',
      identityToken: 'i',
    });
    assert.deepEqual(credentialsFromCri({ ...none, username: 'u', password: 'p' }), {
      kind: 'basic',
      username: 'u',
      password: 'p',
    });
    assert.deepEqual(credentialsFromCri({ ...none, auth: b64('me:pa:ss') }), {
      kind: 'basic',
      username: 'me',
      password: 'pa:ss',
    });
    assert.throws(() => credentialsFromCri({ ...none, auth: b64('nocolon') }), { kind: 'InvalidArgument' });
  });
});

describe('credentialsFromFile', () => {
  it('finds credentials by registry host, Docker Hub under its old names too', async () => {
    const file = join(dir, 'config.json');
    await writeFile(
      file,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub:secret') },
          '127.0.0.1:5000': { auth: b64('local:pw') },
          'tok.example': { auth: b64('ident:'), identitytoken: 'refresh' },
        },
      }),
    );
    assert.deepEqual(await credentialsFromFile(file, 'docker.io'), {
      kind: 'basic',
      username: 'hub',
      password: 'secret',
    });
    assert.deepEqual(await credentialsFromFile(file, '127.0.0.1:5000'), {
      kind: 'basic',
      username: 'local',
      password: 'pw',
    });
    assert.deepEqual(await credentialsFromFile(file, 'tok.example'), {
      kind: 'identity',
      username: 'ident',
      identityToken: 'refresh',
    });
    assert.equal(await credentialsFromFile(file, 'other.example'), undefined);
  });
  it('treats a missing file as no credentials and a broken one as an error', async () => {
    assert.equal(await credentialsFromFile(join(dir, 'absent.json'), 'x'), undefined);
    await writeFile(join(dir, 'bad.json'), '{');
    await assert.rejects(credentialsFromFile(join(dir, 'bad.json'), 'x'), /not valid JSON/);
  });
});
