import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findCniConfig } from './cni-config.js';

const dir = await mkdtemp(join(tmpdir(), 'cri-ts-cni-'));
after(() => rm(dir, { recursive: true, force: true }));

describe('findCniConfig', () => {
  it('is not ready for a missing directory', async () => {
    const state = await findCniConfig(join(dir, 'absent'));
    assert.ok(!state.ready);
    assert.equal(state.reason, 'NetworkPluginNotReady');
  });

  it('is not ready while only invalid files exist, and names the directory', async () => {
    await writeFile(join(dir, '00-broken.conflist'), '{ not json');
    await writeFile(
      join(dir, '01-noplugins.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [] }),
    );
    await writeFile(join(dir, '02-readme.txt'), 'hello');
    const state = await findCniConfig(dir);
    assert.ok(!state.ready);
    assert.match(state.message, new RegExp(dir));
  });

  it('picks the lexically first valid config', async () => {
    await writeFile(join(dir, '20-b.conflist'), JSON.stringify({ name: 'b', plugins: [{ type: 'bridge' }] }));
    await writeFile(join(dir, '10-a.conf'), JSON.stringify({ name: 'a', type: 'ptp' }));
    const state = await findCniConfig(dir);
    assert.deepEqual(state, { ready: true, file: join(dir, '10-a.conf'), network: 'a', plugins: ['ptp'] });
  });
});
