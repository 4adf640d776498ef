import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import { KvBlockPool } from '../../src/serving/kv-pool.js';
import { runPoint } from '../../src/serving/simulate.js';
import { VLLM_ENGINE } from '../helpers/fixtures.js';
import { experiment, point } from './helpers.js';

const HEAD = fileURLToPath(new URL('../fixtures/traces/mooncake-conversation-head.jsonl', import.meta.url));

describe('admitting a prompt whose cached prefix is all the room there is', () => {
  it('counts the idle blocks of the hit against the room: they cannot be evicted to make it', () => {
    // 10 blocks: p0..p3 cached and idle, 4 owned by a running request, 2 free. available = 10 - 4 - 0 = 6.
    const pool = new KvBlockPool(10);
    pool.allocate(4);
    pool.commit(['p0', 'p1', 'p2', 'p3']);
    pool.unref(['p0', 'p1', 'p2', 'p3']);
    pool.allocate(4);
    expect(pool.available).toBe(6);
    // A prompt hitting p0..p2 takes those 3 (idle) and needs n new blocks: it fits while n + 3 <= 6.
    expect(pool.idleAmong(['p0', 'p1', 'p2'], 3)).toBe(3);
    pool.acquire(['p0'], 1);
    expect(pool.idleAmong(['p0', 'p1', 'p2'], 3)).toBe(2);
  });

  it('a Mooncake replay on a small KV pool runs (it used to evict the hit it was admitting, an invariant violation)', () => {
    // One 8B worker at gpu_memory_utilization 0.28: a pool of a few thousand blocks, where the head of the
    // conversation trace (50 prompts of ~7k tokens sharing prefixes) fills it with cached and running blocks.
    const { result, audit } = runPoint(
      point(
        experiment({
          deployment: { mode: 'aggregated', engine: { ...VLLM_ENGINE, gpuMemoryUtilization: 0.28 } },
          workload: { kind: 'trace', requests: 0, trace: { format: 'mooncake', path: HEAD, speedup: 1 } },
        }),
      ),
      defaultCatalog(),
      { checkInvariants: 'every-event' },
    );
    // The 10 prompts longer than the whole pool fail as too long; every other one is served.
    expect(result.requests).toMatchObject({ total: 50, completed: 40, failed: 10 });
    expect(audit.requests.failedBy.too_long).toBe(10);
  });
});
