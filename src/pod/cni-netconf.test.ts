import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isCriError } from '../errors/errors.js';
import {
  compareVersions,
  delTakesPrevResult,
  loadNetworkList,
  pluginRequest,
  selectVersion,
} from './cni-netconf.js';

const dir = await mkdtemp(join(tmpdir(), 'cri-ts-netconf-'));
after(() => rm(dir, { recursive: true, force: true }));

describe('cni network config', () => {
  it('compares versions numerically', () => {
    assert.ok(compareVersions('0.10.0', '0.4.0') > 0);
    assert.ok(compareVersions('1.0.0', '1.0') === 0);
    assert.ok(compareVersions('0.3.1', '0.4.0') < 0);
  });

  it('selects the highest known version from cniVersion and cniVersions', () => {
    assert.equal(selectVersion({ cniVersion: '0.4.0' }), '0.4.0');
    assert.equal(selectVersion({ cniVersion: '0.4.0', cniVersions: ['0.3.1', '1.0.0'] }), '1.0.0');
    assert.equal(selectVersion({ cniVersion: '1.0.0', cniVersions: ['1.1.0', '2.0.0'] }), '1.1.0');
    assert.equal(selectVersion({}), '');
  });

  it('passes prevResult on DEL from 0.4.0 on only', () => {
    assert.equal(delTakesPrevResult('0.3.1'), false);
    assert.equal(delTakesPrevResult(''), false);
    assert.equal(delTakesPrevResult('0.4.0'), true);
    assert.equal(delTakesPrevResult('1.0.0'), true);
  });

  it('loads a conflist, and a single .conf as a list of one', async () => {
    const listFile = join(dir, '10-a.conflist');
    await writeFile(
      listFile,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'a',
        plugins: [{ type: 'bridge', bridge: 'x' }, { type: 'portmap' }],
      }),
    );
    assert.deepEqual(await loadNetworkList(listFile), {
      name: 'a',
      cniVersion: '1.0.0',
      plugins: [{ type: 'bridge', bridge: 'x' }, { type: 'portmap' }],
    });
    const confFile = join(dir, '20-b.conf');
    const conf = { cniVersion: '0.3.1', name: 'b', type: 'ptp', ipam: { type: 'host-local' } };
    await writeFile(confFile, JSON.stringify(conf));
    assert.deepEqual(await loadNetworkList(confFile), { name: 'b', cniVersion: '0.3.1', plugins: [conf] });
  });

  it('refuses unreadable or incomplete configs, naming the file', async () => {
    const broken = join(dir, '30-c.conflist');
    await writeFile(broken, JSON.stringify({ name: 'c', plugins: [{ bridge: 'no type' }] }));
    await assert.rejects(
      loadNetworkList(broken),
      (err: unknown) => isCriError(err) && err.kind === 'FailedPrecondition' && err.message.includes(broken),
    );
    await assert.rejects(loadNetworkList(join(dir, 'absent.conflist')), /absent\.conflist/);
  });

  it('derives the request: name and version injected, capabilities filtered into runtimeConfig', () => {
    const list = { name: 'net', cniVersion: '1.0.0', plugins: [] };
    const ports = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
    const portmap = { type: 'portmap', capabilities: { portMappings: true, bandwidth: false }, snat: true };
    assert.deepEqual(pluginRequest(list, portmap, { portMappings: ports, bandwidth: {} }, { ips: [] }), {
      type: 'portmap',
      snat: true,
      cniVersion: '1.0.0',
      name: 'net',
      runtimeConfig: { portMappings: ports },
      prevResult: { ips: [] },
    });
    // No declared capability: no runtimeConfig; the first plugin of an ADD gets no prevResult; reserved keys go.
    const bridge = {
      type: 'bridge',
      name: 'ignored',
      runtimeConfig: { x: 1 },
      'cni.dev/x': 1,
      ipam: { type: 'h' },
    };
    assert.deepEqual(pluginRequest(list, bridge, { portMappings: ports }, null), {
      type: 'bridge',
      name: 'net',
      cniVersion: '1.0.0',
      ipam: { type: 'h' },
    });
  });
});
