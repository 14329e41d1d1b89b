import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNetDev } from './pod-stats.js';

describe('parseNetDev', () => {
  it('reads bytes, packets, errors and drops per interface and leaves loopback out', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    5000      40    3    6    0     0          0         0     7000      50    4    8    0     0       0          0
`;
    assert.deepEqual(parseNetDev(text), [
      {
        name: 'eth0',
        rxBytes: 5000n,
        rxPackets: 40n,
        rxErrors: 3n,
        rxDropped: 6n,
        txBytes: 7000n,
        txPackets: 50n,
        txErrors: 4n,
        txDropped: 8n,
      },
    ]);
  });
});
