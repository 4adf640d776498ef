import { describe, expect, it } from 'vitest';
import { parseRunArgs } from '../helpers/cli.js';

const parse = parseRunArgs;

describe('nixlsim run flags', () => {
  it('collects repeated --set into a list, wherever the file stands', async () => {
    const a = await parse(['run', '--set', 'deployment.prefill.tp=2', 'x.yaml', '--set', 'sweep.deployment.transport=[tcp,ib-rdma]', '--seed', '7', '--json', '--out', 'o']);
    expect(a['experiment']).toBe('x.yaml');
    expect(a['set']).toEqual(['deployment.prefill.tp=2', 'sweep.deployment.transport=[tcp,ib-rdma]']);
    expect(a['seed']).toBe(7);
    expect(a['json']).toBe(true);
    expect(a['out']).toBe('o');
  });

  it('one --set is a list of one; none leaves set, seed and out unset', async () => {
    expect((await parse(['run', 'x.yaml', '--set', 'seed=1']))['set']).toEqual(['seed=1']);
    const a = await parse(['run', 'x.yaml']);
    expect([a['set'], a['seed'], a['out'], a['json']]).toEqual([undefined, undefined, undefined, false]);
  });

  it('a bad --seed is a flag error', async () => {
    await expect(parse(['run', 'x.yaml', '--seed', '-1'])).rejects.toThrow(/--seed must be a whole number/);
  });
});
