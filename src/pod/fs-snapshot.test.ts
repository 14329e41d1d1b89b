import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { deviceNumbers, filesystemOf, mountSourceOf } from './fs-snapshot.js';

describe('filesystem snapshot', () => {
  it('splits dev_t numbers, small and large', () => {
    assert.deepEqual(deviceNumbers(0xfe00n), { major: 254, minor: 0 });
    assert.deepEqual(deviceNumbers(0x800811n), { major: 8, minor: 0x811 });
  });

  it('finds the mount source of a device in mountinfo', () => {
    const mountinfo =
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n' +
      '30 22 0:25 / /run rw shared:5 - tmpfs tmpfs rw\n' +
      '31 22 254:0 /x /mnt/with\\040space rw - ext4 /dev/vda rw\n';
    assert.equal(mountSourceOf(mountinfo, 254, 0), '/dev/vda');
    assert.equal(mountSourceOf(mountinfo, 0, 25), 'tmpfs');
    assert.equal(mountSourceOf(mountinfo, 9, 9), undefined);
  });

  it('describes the filesystem of a real path', async () => {
    const fs = await filesystemOf('/tmp', await readFile('/proc/self/mountinfo', 'utf8'));
    assert.ok(fs.device.length > 0);
    assert.ok(fs.capacityBytes > 0n);
    assert.ok(fs.inodesTotal >= fs.inodesFree);
    const st = await stat('/tmp', { bigint: true });
    assert.ok(st.dev > 0n);
  });
});
