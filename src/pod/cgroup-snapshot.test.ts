import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseBlkioV1,
  parseIoStat,
  parsePressure,
  readCgroupSnapshot,
  weightToShares,
  type CgroupFileReader,
} from './cgroup-snapshot.js';

/** Cgroup files as the kernel would show them: the OS boundary, faked here only. */
const files =
  (texts: Record<string, string>): CgroupFileReader =>
  (name) =>
    Promise.resolve(texts[name]);

const v1Files = {
  'cpuacct.usage': '2500000000\n',
  'cpuacct.usage_user': '1700000000\n',
  'cpuacct.usage_sys': '800000000\n',
  'cpuacct.stat': 'user 170\nsystem 80\n',
  'cpu.stat': 'nr_periods 40\nnr_throttled 7\nthrottled_time 3200000000\n',
  'memory.usage_in_bytes': '10000\n',
  'memory.max_usage_in_bytes': '15000\n',
  'memory.failcnt': '2\n',
  'memory.kmem.usage_in_bytes': '300\n',
  'memory.stat':
    'cache 10\nrss 20\npgfault 5\npgmajfault 1\ntotal_cache 4000\ntotal_rss 5000\ntotal_mapped_file 600\n' +
    'total_swap 0\ntotal_inactive_file 1000\ntotal_pgfault 50\ntotal_pgmajfault 3\n',
  'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
  'cpu.cfs_period_us': '100000\n',
  'cpu.cfs_quota_us': '20000\n',
  'cpu.shares': '1024\n',
  'memory.limit_in_bytes': '67108864\n',
  'memory.memsw.limit_in_bytes': '9223372036854771712\n',
  'memory.soft_limit_in_bytes': '9223372036854771712\n',
  'pids.current': '3\n',
  'pids.max': 'max\n',
  'blkio.throttle.io_service_bytes_recursive': '254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\nTotal 12288\n',
  'blkio.throttle.io_serviced_recursive': '254:0 Read 1\n254:0 Write 2\nTotal 3\n',
};

describe('readCgroupSnapshot on cgroup v1', () => {
  it('reads cpu, memory, limits, pids and block I/O from the controllers files', async () => {
    const s = await readCgroupSnapshot(false, files(v1Files));
    assert.deepEqual(s.cpu, {
      usageNs: 2_500_000_000n,
      userNs: 1_700_000_000n,
      systemNs: 800_000_000n,
      periods: 40n,
      throttledPeriods: 7n,
      throttledNs: 3_200_000_000n,
    });
    assert.equal(s.memory.usage, 10000n);
    assert.equal(s.memory.maxUsage, 15000n);
    assert.equal(s.memory.workingSet, 9000n, 'usage minus inactive file pages');
    assert.equal(s.memory.cache, 4000n);
    assert.equal(s.memory.rss, 5000n);
    assert.equal(s.memory.mappedFile, 600n);
    assert.equal(s.memory.swap, 0n);
    assert.equal(s.memory.kernel, 300n);
    assert.equal(s.memory.failcnt, 2n);
    assert.equal(s.memory.oomKills, 1n);
    assert.deepEqual(s.memory.faults, [
      { type: 'pgfault', scope: 'container', count: 5n },
      { type: 'pgfault', scope: 'hierarchy', count: 50n },
      { type: 'pgmajfault', scope: 'container', count: 1n },
      { type: 'pgmajfault', scope: 'hierarchy', count: 3n },
    ]);
    assert.deepEqual(s.spec, {
      cpuPeriodUs: 100000n,
      cpuQuotaUs: 20000n,
      cpuShares: 1024n,
      memoryLimit: 67108864n,
      memorySwapLimit: undefined,
      memoryReservation: undefined,
    });
    assert.deepEqual(s.pids, { current: 3n, max: undefined });
    assert.deepEqual(s.io, [{ major: 254, minor: 0, readBytes: 4096n, writeBytes: 8192n, reads: 1n, writes: 2n }]);
    assert.deepEqual(s.pressure, []);
  });

  it('falls back to cpuacct.stat ticks, treats quota -1 as none, and leaves absent files undefined', async () => {
    const s = await readCgroupSnapshot(
      false,
      files({ 'cpuacct.stat': 'user 170\nsystem 80\n', 'cpu.cfs_quota_us': '-1\n' }),
    );
    assert.equal(s.cpu.userNs, 1_700_000_000n);
    assert.equal(s.cpu.systemNs, 800_000_000n);
    assert.equal(s.cpu.usageNs, undefined);
    assert.equal(s.spec.cpuQuotaUs, undefined);
    assert.equal(s.memory.usage, undefined);
    assert.equal(s.memory.workingSet, undefined);
    assert.deepEqual(s.io, []);
  });
});

describe('readCgroupSnapshot on cgroup v2', () => {
  it('reads the unified files, converting weight to shares and swap to memory+swap', async () => {
    const s = await readCgroupSnapshot(
      true,
      files({
        'cpu.stat':
          'usage_usec 2500000\nuser_usec 1700000\nsystem_usec 800000\nnr_periods 4\nnr_throttled 1\n' +
          'throttled_usec 1500000\n',
        'memory.current': '10000\n',
        'memory.peak': '20000\n',
        'memory.stat':
          'anon 5000\nfile 4000\nfile_mapped 600\nkernel 700\ninactive_file 1000\npgfault 9\npgmajfault 2\n',
        'memory.events': 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n',
        'memory.swap.current': '0\n',
        'cpu.max': '20000 100000\n',
        'cpu.weight': '39\n',
        'memory.max': '67108864\n',
        'memory.swap.max': '0\n',
        'memory.low': '0\n',
        'pids.current': '2\n',
        'pids.max': '1024\n',
        'io.stat': '254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
        'cpu.pressure':
          'some avg10=0.00 avg60=0.00 avg300=0.00 total=3000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n',
        'memory.pressure':
          'some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=2\n',
      }),
    );
    assert.equal(s.cpu.usageNs, 2_500_000_000n);
    assert.equal(s.cpu.throttledNs, 1_500_000_000n);
    assert.equal(s.memory.workingSet, 9000n);
    assert.equal(s.memory.kernel, 700n);
    assert.equal(s.memory.failcnt, 4n);
    assert.equal(s.memory.maxUsage, 20000n);
    // runc turns 1024 shares into weight 39 with integer division; the way back cannot recover the lost part.
    assert.equal(s.spec.cpuShares, 998n);
    assert.equal(s.spec.cpuQuotaUs, 20000n);
    assert.equal(s.spec.memorySwapLimit, 67108864n, 'no swap on top of the memory limit');
    assert.equal(s.spec.memoryReservation, undefined);
    assert.deepEqual(s.pids, { current: 2n, max: 1024n });
    assert.deepEqual(s.pressure, [
      { resource: 'cpu', someUs: 3_000_000n, fullUs: 1_000_000n },
      { resource: 'memory', someUs: 5n, fullUs: 2n },
    ]);
  });
});

describe('cgroup file parsers', () => {
  it('sums v1 block I/O per device and ignores totals and other operations', () => {
    assert.deepEqual(
      parseBlkioV1('8:0 Read 10\n8:0 Write 20\n8:16 Read 5\nTotal 35\n', '8:0 Read 1\n8:0 Async 9\n'),
      [
        { major: 8, minor: 0, readBytes: 10n, writeBytes: 20n, reads: 1n, writes: 0n },
        { major: 8, minor: 16, readBytes: 5n, writeBytes: 0n, reads: 0n, writes: 0n },
      ],
    );
  });

  it('reads io.stat lines and skips malformed ones', () => {
    assert.deepEqual(parseIoStat('8:0 rbytes=1 wbytes=2 rios=3 wios=4\ngarbage\n'), [
      { major: 8, minor: 0, readBytes: 1n, writeBytes: 2n, reads: 3n, writes: 4n },
    ]);
  });

  it('reads PSI totals, with or without a "full" line', () => {
    assert.deepEqual(parsePressure('some avg10=1.00 avg60=0.00 avg300=0.00 total=42\n'), { someUs: 42n });
    assert.equal(parsePressure(undefined), undefined);
  });

  it('maps cgroup v2 weights back to shares across the range', () => {
    assert.equal(weightToShares(1n), 2n);
    assert.equal(weightToShares(10000n), 262144n);
  });
});
