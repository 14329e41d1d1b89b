import { join } from 'node:path';
import { parseCgroupNumber, parseFlatKeyed, readCgroupText } from './cgroup-files.js';
import type { CgroupHierarchies } from './pod-cgroup.js';

/**
 * Everything the CRI metrics need from one container cgroup, read in one pass, on cgroup v1 or v2. A field the
 * kernel does not offer stays undefined: the metric is then left out rather than reported as a false zero.
 */
/** A value the kernel may not offer. */
type Maybe = bigint | undefined;

export interface CgroupSnapshot {
  cpu: {
    usageNs: Maybe;
    userNs: Maybe;
    systemNs: Maybe;
    periods: Maybe;
    throttledPeriods: Maybe;
    throttledNs: Maybe;
  };
  memory: {
    usage: Maybe;
    maxUsage: Maybe;
    workingSet: Maybe;
    cache: Maybe;
    rss: Maybe;
    mappedFile: Maybe;
    swap: Maybe;
    kernel: Maybe;
    failcnt: Maybe;
    oomKills: Maybe;
    /** Faults in this cgroup alone ("container") and with its descendants ("hierarchy"). */
    faults: { type: 'pgfault' | 'pgmajfault'; scope: 'container' | 'hierarchy'; count: bigint }[];
  };
  spec: {
    cpuPeriodUs: Maybe;
    cpuQuotaUs: Maybe;
    cpuShares: Maybe;
    /** Undefined: unlimited. */
    memoryLimit: Maybe;
    memorySwapLimit: Maybe;
    memoryReservation: Maybe;
  };
  pids: { current: Maybe; max: Maybe };
  io: BlockIo[];
  pressure: { resource: 'cpu' | 'memory' | 'io'; someUs: bigint; fullUs?: bigint }[];
}

export interface BlockIo {
  major: number;
  minor: number;
  readBytes: bigint;
  writeBytes: bigint;
  reads: bigint;
  writes: bigint;
}

/** Reads a file of the cgroup by its name; on v1 the name's prefix says which controller's hierarchy holds it. */
export type CgroupFileReader = (file: string) => Promise<string | undefined>;

export function cgroupFileReader(h: CgroupHierarchies, path: string): CgroupFileReader {
  if (h.unified && h.v2Root !== undefined) {
    const dir = join(h.v2Root, path);
    return (file) => readCgroupText(join(dir, file));
  }
  return (file) => {
    const prefix = file.split('.')[0] ?? '';
    // cgroup.procs lists the same processes in every hierarchy; pids is where runc always places them.
    const controller = prefix === 'cgroup' ? 'pids' : prefix;
    const mount = h.v1.get(controller);
    return mount === undefined ? Promise.resolve(undefined) : readCgroupText(join(mount, path, file));
  };
}

const nonZeroLimit = (v: bigint | undefined): bigint | undefined =>
  // v1 reports "no limit" as the largest page-aligned signed value; anything that large is no limit at all.
  v === undefined || v >= 1n << 62n ? undefined : v;

/** v1 throttle or CFQ/BFQ files: "MAJ:MIN Read|Write|… N" lines. */
export function parseBlkioV1(bytesText: string | undefined, opsText: string | undefined): BlockIo[] {
  const byDevice = new Map<string, BlockIo>();
  const entry = (dev: string): BlockIo | undefined => {
    const [major, minor] = dev.split(':').map(Number);
    if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) return undefined;
    let e = byDevice.get(dev);
    if (e === undefined) {
      e = { major, minor, readBytes: 0n, writeBytes: 0n, reads: 0n, writes: 0n };
      byDevice.set(dev, e);
    }
    return e;
  };
  const apply = (text: string | undefined, read: 'readBytes' | 'reads', write: 'writeBytes' | 'writes') => {
    for (const line of (text ?? '').split('\n')) {
      const [dev, op, value] = line.trim().split(/\s+/);
      if (dev === undefined || op === undefined || value === undefined || !/^\d+$/.test(value)) continue;
      if (op !== 'Read' && op !== 'Write') continue;
      const e = entry(dev);
      if (e !== undefined) e[op === 'Read' ? read : write] += BigInt(value);
    }
  };
  apply(bytesText, 'readBytes', 'writeBytes');
  apply(opsText, 'reads', 'writes');
  return [...byDevice.values()];
}

/** v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N …". */
export function parseIoStat(text: string | undefined): BlockIo[] {
  const out: BlockIo[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...fields] = line.trim().split(/\s+/);
    const [major, minor] = (dev ?? '').split(':').map(Number);
    if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) continue;
    const kv = new Map(fields.map((f) => f.split('=') as [string, string]));
    const n = (k: string) => {
      const v = kv.get(k);
      return v !== undefined && /^\d+$/.test(v) ? BigInt(v) : 0n;
    };
    out.push({
      major,
      minor,
      readBytes: n('rbytes'),
      writeBytes: n('wbytes'),
      reads: n('rios'),
      writes: n('wios'),
    });
  }
  return out;
}

/** A PSI file: "some avg10=… total=USEC" and, except for cpu on old kernels, "full …". */
export function parsePressure(text: string | undefined): { someUs: bigint; fullUs?: bigint } | undefined {
  let someUs: bigint | undefined;
  let fullUs: bigint | undefined;
  for (const line of (text ?? '').split('\n')) {
    const total = /\btotal=(\d+)/.exec(line)?.[1];
    if (total === undefined) continue;
    if (line.startsWith('some')) someUs = BigInt(total);
    if (line.startsWith('full')) fullUs = BigInt(total);
  }
  return someUs === undefined ? undefined : { someUs, ...(fullUs === undefined ? {} : { fullUs }) };
}

/** cgroup v2 cpu.weight (1–10000) back to v1 shares (2–262144), the inverse of the runtimes' conversion. */
export function weightToShares(weight: bigint): bigint {
  return 2n + ((weight - 1n) * 262142n) / 9999n;
}

const workingSet = (usage: bigint | undefined, inactiveFile: bigint | undefined) =>
  usage === undefined ? undefined : usage > (inactiveFile ?? 0n) ? usage - (inactiveFile ?? 0n) : 0n;

async function readV1(read: CgroupFileReader): Promise<CgroupSnapshot> {
  const [usage, usageUser, usageSys, cpuacctStat, cpuStat] = await Promise.all([
    read('cpuacct.usage'),
    read('cpuacct.usage_user'),
    read('cpuacct.usage_sys'),
    read('cpuacct.stat'),
    read('cpu.stat'),
  ]);
  const ticks = parseFlatKeyed(cpuacctStat);
  // cpuacct.stat counts USER_HZ ticks (100 per second on Linux); the _user/_sys files are in ns where present.
  const tickNs = 10_000_000n;
  const userTicks = ticks.get('user');
  const sysTicks = ticks.get('system');
  const cfs = parseFlatKeyed(cpuStat);
  const throttledTime = cfs.get('throttled_time');

  const [memUsage, memMax, failcnt, kmem, memStatText, oomControl] = await Promise.all([
    read('memory.usage_in_bytes'),
    read('memory.max_usage_in_bytes'),
    read('memory.failcnt'),
    read('memory.kmem.usage_in_bytes'),
    read('memory.stat'),
    read('memory.oom_control'),
  ]);
  const mem = parseFlatKeyed(memStatText);
  const used = parseCgroupNumber(memUsage);

  const [period, quota, shares, limit, memswLimit, softLimit, pidsCurrent, pidsMax] = await Promise.all([
    read('cpu.cfs_period_us'),
    read('cpu.cfs_quota_us'),
    read('cpu.shares'),
    read('memory.limit_in_bytes'),
    read('memory.memsw.limit_in_bytes'),
    read('memory.soft_limit_in_bytes'),
    read('pids.current'),
    read('pids.max'),
  ]);

  let io = parseBlkioV1(
    await read('blkio.throttle.io_service_bytes_recursive'),
    await read('blkio.throttle.io_serviced_recursive'),
  );
  // Without throttling rules some kernels account only in the scheduler's files.
  if (io.length === 0)
    io = parseBlkioV1(
      await read('blkio.bfq.io_service_bytes_recursive'),
      await read('blkio.bfq.io_serviced_recursive'),
    );

  const faults: CgroupSnapshot['memory']['faults'] = [];
  for (const type of ['pgfault', 'pgmajfault'] as const) {
    const own = mem.get(type);
    const all = mem.get(`total_${type}`);
    if (own !== undefined) faults.push({ type, scope: 'container', count: own });
    if (all !== undefined) faults.push({ type, scope: 'hierarchy', count: all });
  }
  return {
    cpu: {
      usageNs: parseCgroupNumber(usage),
      userNs: parseCgroupNumber(usageUser) ?? (userTicks === undefined ? undefined : userTicks * tickNs),
      systemNs: parseCgroupNumber(usageSys) ?? (sysTicks === undefined ? undefined : sysTicks * tickNs),
      periods: cfs.get('nr_periods'),
      throttledPeriods: cfs.get('nr_throttled'),
      throttledNs: throttledTime,
    },
    memory: {
      usage: used,
      maxUsage: parseCgroupNumber(memMax),
      workingSet: workingSet(used, mem.get('total_inactive_file')),
      cache: mem.get('total_cache'),
      rss: mem.get('total_rss'),
      mappedFile: mem.get('total_mapped_file'),
      swap: mem.get('total_swap'),
      kernel: parseCgroupNumber(kmem),
      failcnt: parseCgroupNumber(failcnt),
      oomKills: parseFlatKeyed(oomControl).get('oom_kill'),
      faults,
    },
    spec: {
      cpuPeriodUs: parseCgroupNumber(period),
      cpuQuotaUs: parseCgroupNumber(quota),
      cpuShares: parseCgroupNumber(shares),
      memoryLimit: nonZeroLimit(parseCgroupNumber(limit)),
      memorySwapLimit: nonZeroLimit(parseCgroupNumber(memswLimit)),
      memoryReservation: nonZeroLimit(parseCgroupNumber(softLimit)),
    },
    pids: { current: parseCgroupNumber(pidsCurrent), max: parseCgroupNumber(pidsMax) },
    io,
    pressure: [],
  };
}

async function readV2(read: CgroupFileReader): Promise<CgroupSnapshot> {
  const names = [
    'cpu.stat',
    'memory.current',
    'memory.peak',
    'memory.stat',
    'memory.events',
    'memory.swap.current',
    'cpu.max',
    'cpu.weight',
    'memory.max',
    'memory.swap.max',
    'memory.low',
    'pids.current',
    'pids.max',
    'io.stat',
    'cpu.pressure',
    'memory.pressure',
    'io.pressure',
  ] as const;
  const texts = await Promise.all(names.map((n) => read(n)));
  const f = (n: (typeof names)[number]) => texts[names.indexOf(n)];
  const cpu = parseFlatKeyed(f('cpu.stat'));
  const mem = parseFlatKeyed(f('memory.stat'));
  const events = parseFlatKeyed(f('memory.events'));
  const us = (k: string) => {
    const v = cpu.get(k);
    return v === undefined ? undefined : v * 1000n;
  };
  const [quota, period] = (f('cpu.max') ?? '').trim().split(/\s+/);
  const weight = parseCgroupNumber(f('cpu.weight'));
  const memoryMax = parseCgroupNumber(f('memory.max'));
  const swapMax = parseCgroupNumber(f('memory.swap.max'));
  const used = parseCgroupNumber(f('memory.current'));
  const kernel =
    mem.get('kernel') ??
    (mem.has('kernel_stack') || mem.has('slab')
      ? (mem.get('kernel_stack') ?? 0n) + (mem.get('slab') ?? 0n)
      : undefined);
  const faults: CgroupSnapshot['memory']['faults'] = [];
  for (const type of ['pgfault', 'pgmajfault'] as const) {
    const count = mem.get(type);
    // v2 counts hierarchically only: the same number serves both scopes.
    if (count !== undefined) faults.push({ type, scope: 'container', count }, { type, scope: 'hierarchy', count });
  }
  const pressure: CgroupSnapshot['pressure'] = [];
  for (const resource of ['cpu', 'memory', 'io'] as const) {
    const p = parsePressure(f(`${resource}.pressure`));
    if (p !== undefined) pressure.push({ resource, ...p });
  }
  return {
    cpu: {
      usageNs: us('usage_usec'),
      userNs: us('user_usec'),
      systemNs: us('system_usec'),
      periods: cpu.get('nr_periods'),
      throttledPeriods: cpu.get('nr_throttled'),
      throttledNs: us('throttled_usec'),
    },
    memory: {
      usage: used,
      maxUsage: parseCgroupNumber(f('memory.peak')),
      workingSet: workingSet(used, mem.get('inactive_file')),
      cache: mem.get('file'),
      rss: mem.get('anon'),
      mappedFile: mem.get('file_mapped'),
      swap: parseCgroupNumber(f('memory.swap.current')),
      kernel,
      failcnt: events.get('max'),
      oomKills: events.get('oom_kill'),
      faults,
    },
    spec: {
      cpuPeriodUs: parseCgroupNumber(period),
      cpuQuotaUs: parseCgroupNumber(quota),
      cpuShares: weight === undefined ? undefined : weightToShares(weight),
      memoryLimit: memoryMax,
      // CRI and OCI speak of memory+swap (v1's memsw); v2 limits swap alone.
      memorySwapLimit: memoryMax !== undefined && swapMax !== undefined ? memoryMax + swapMax : undefined,
      memoryReservation: parseCgroupNumber(f('memory.low')) || undefined,
    },
    pids: { current: parseCgroupNumber(f('pids.current')), max: parseCgroupNumber(f('pids.max')) },
    io: parseIoStat(f('io.stat')),
    pressure,
  };
}

export function readCgroupSnapshot(cgroupV2: boolean, read: CgroupFileReader): Promise<CgroupSnapshot> {
  return cgroupV2 ? readV2(read) : readV1(read);
}
