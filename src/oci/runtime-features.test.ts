import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelHasMountSetattr, mountOptionsOf, probeHandlerFeatures } from './runtime-features.js';

describe('runtime handler features', () => {
  it('knows which kernels have mount_setattr', () => {
    assert.equal(kernelHasMountSetattr('5.11.22-generic'), false);
    assert.equal(kernelHasMountSetattr('5.12.0'), true);
    assert.equal(kernelHasMountSetattr('6.1.0-13-amd64'), true);
    assert.equal(kernelHasMountSetattr('4.19.0'), false);
    assert.equal(kernelHasMountSetattr('garbage'), false);
  });

  it('reads mount options from a features document and tolerates anything else', () => {
    assert.deepEqual([...mountOptionsOf('{"mountOptions":["ro","rro",3]}')], ['ro', 'rro']);
    assert.equal(mountOptionsOf('{}').size, 0);
    assert.equal(mountOptionsOf('unknown command features').size, 0);
  });

  it('asks the real runc, and counts a binary without `features` as supporting nothing', async () => {
    const runc = await probeHandlerFeatures('/usr/sbin/runc', '6.1.0');
    assert.equal(runc.recursiveReadOnlyMounts, true, 'runc 1.1 lists rro');
    assert.equal((await probeHandlerFeatures('/usr/sbin/runc', '5.4.0')).recursiveReadOnlyMounts, false);
    assert.equal((await probeHandlerFeatures('/bin/false', '6.1.0')).recursiveReadOnlyMounts, false);
    assert.equal((await probeHandlerFeatures('/no/such/runtime', '6.1.0')).recursiveReadOnlyMounts, false);
  });
});
