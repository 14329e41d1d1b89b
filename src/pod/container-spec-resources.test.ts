import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LinuxContainerResources } from '../cri/types.js';
import { CriError } from '../errors/errors.js';
import { containerOomScoreAdj, containerResources } from './container-spec-resources.js';

const invalid = (re: RegExp) => (err: unknown) =>
  err instanceof CriError && err.kind === 'InvalidArgument' && re.test(err.message);

function resources(over: Partial<LinuxContainerResources> = {}): LinuxContainerResources {
  return {
    cpu_period: 0n,
    cpu_quota: 0n,
    cpu_shares: 0n,
    memory_limit_in_bytes: 0n,
    oom_score_adj: 0n,
    cpuset_cpus: '',
    cpuset_mems: '',
    hugepage_limits: [],
    unified: {},
    memory_swap_limit_in_bytes: 0n,
    ...over,
  };
}

describe('containerResources', () => {
  it('maps every CRI limit to the spec builder’s terms', () => {
    assert.deepEqual(
      containerResources(
        resources({
          cpu_period: 100000n,
          cpu_quota: 50000n,
          cpu_shares: 512n,
          memory_limit_in_bytes: 15n * 1024n * 1024n,
          memory_swap_limit_in_bytes: 15n * 1024n * 1024n,
          cpuset_cpus: '0-1',
          cpuset_mems: '0',
          hugepage_limits: [{ page_size: '2MB', limit: 4194304n }],
          unified: { 'memory.high': '1000000' },
        }),
        1024,
      ),
      {
        pidsLimit: 1024,
        cpuShares: 512,
        cpuQuota: 50000,
        cpuPeriod: 100000,
        cpusetCpus: '0-1',
        cpusetMems: '0',
        memoryLimit: 15728640,
        memorySwap: 15728640,
        hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
        unified: { 'memory.high': '1000000' },
      },
    );
  });

  it('treats zero as unspecified and nothing as no resources', () => {
    assert.equal(containerResources(resources()), undefined);
    assert.equal(containerResources(null), undefined);
    assert.deepEqual(containerResources(null, 100), { pidsLimit: 100 });
    assert.equal(containerResources(null, 0), undefined);
    assert.equal(containerResources(null, -1), undefined);
  });

  it('passes the kernel’s "unlimited" quota and swap through', () => {
    assert.deepEqual(containerResources(resources({ cpu_quota: -1n, memory_swap_limit_in_bytes: -1n })), {
      cpuQuota: -1,
      memorySwap: -1,
    });
  });

  it('refuses negative shares, periods and memory, and odd page sizes', () => {
    assert.throws(() => containerResources(resources({ cpu_shares: -2n })), invalid(/cpu_shares -2/));
    assert.throws(() => containerResources(resources({ cpu_period: -1n })), invalid(/cpu_period -1/));
    assert.throws(
      () => containerResources(resources({ memory_limit_in_bytes: -5n })),
      invalid(/memory_limit_in_bytes/),
    );
    assert.throws(
      () => containerResources(resources({ hugepage_limits: [{ page_size: '2M', limit: 1n }] })),
      invalid(/page_size "2M"/),
    );
    assert.throws(
      () => containerResources(resources({ memory_limit_in_bytes: 1n << 60n })),
      invalid(/memory_limit_in_bytes .* out of range/),
    );
  });
});

describe('containerOomScoreAdj', () => {
  it('is the request’s value, 0 when absent, and refuses values outside -1000..1000', () => {
    assert.equal(containerOomScoreAdj(resources({ oom_score_adj: 1000n })), 1000);
    assert.equal(containerOomScoreAdj(resources({ oom_score_adj: -997n })), -997);
    assert.equal(containerOomScoreAdj(null), 0);
    assert.throws(() => containerOomScoreAdj(resources({ oom_score_adj: 1001n })), invalid(/oom_score_adj 1001/));
  });
});
