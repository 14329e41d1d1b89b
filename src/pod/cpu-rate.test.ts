import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpuRateTracker } from './cpu-rate.js';

const s = 1_000_000_000n;

describe('CpuRateTracker', () => {
  it('averages over the lifetime first, then over the interval since the last sample', () => {
    const t = new CpuRateTracker();
    // Half a core for 10 s since start.
    assert.equal(t.nanoCores('c', 5n * s, 110n * s, 100n * s), 500_000_000n);
    // Then two full cores for 2 s.
    assert.equal(t.nanoCores('c', 9n * s, 112n * s, 100n * s), 2_000_000_000n);
  });

  it('keeps containers apart, and restarts from zero when a counter goes backwards', () => {
    const t = new CpuRateTracker();
    t.nanoCores('a', 4n * s, 10n * s, 0n);
    assert.equal(t.nanoCores('b', 1n * s, 10n * s, 0n), 100_000_000n);
    assert.equal(t.nanoCores('a', 1n * s, 11n * s, 0n), 0n);
    assert.equal(t.nanoCores('a', 2n * s, 12n * s, 0n), 1_000_000_000n);
  });

  it('forgets keys nobody asked about for a while', () => {
    const t = new CpuRateTracker(5n * s);
    t.nanoCores('old', 1n * s, 10n * s, 0n);
    t.nanoCores('new', 1n * s, 20n * s, 19n * s);
    // 'old' was forgotten: its next sample averages over the lifetime again.
    assert.equal(t.nanoCores('old', 3n * s, 30n * s, 0n), 100_000_000n);
  });
});
