import { afterEach, describe, expect, test, vi } from 'vitest';
import yargs from 'yargs';
import { listCommand } from '../../src/cli/commands/list.js';

/** Runs `list ...` through yargs as main.ts would, capturing what the handler prints. */
async function list(...args: string[]): Promise<string> {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  await yargs(args)
    .command(listCommand)
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
  return lines.join('\n');
}

afterEach(() => {
  vi.restoreAllMocks();
});

const row = (out: string, id: string) => out.split('\n').find((l) => l.startsWith(`${id} `)) ?? '';

describe('nixlsim list', () => {
  test('models: KV bytes per token worked out by hand', async () => {
    const out = await list('list', 'models');
    expect(out.split('\n')[0]).toMatch(/^id\s+attention\s+layers\s+kv heads\s+head dim\s+KV B\/token\s+max ctx/);
    // 2 (K,V) x 80 layers x 8 kv heads x 128 x 2 bytes
    expect(row(out, 'deepseek-r1-distill-llama-70b')).toMatch(/gqa\s+80\s+8\s+128\s+327,680\s+131,072/);
    // 2 x 32 x 8 x 128 x 2
    expect(row(out, 'llama-3.1-8b-instruct')).toContain('131,072');
    // 2 x 36 x 8 x 128 x 2
    expect(row(out, 'qwen3-8b')).toMatch(/147,456\s+40,960/);
    // MLA: 61 layers x (512 + 64) x 2 bytes, no factor 2
    expect(row(out, 'deepseek-v3')).toMatch(/mla\s+61\s+1\s+576\s+70,272\s+163,840/);
    // 2 (K,V) x 94 layers x 4 kv heads x 128 x 2 bytes = 192,512; 8 of its 128 experts per token
    expect(row(out, 'qwen3-235b-a22b')).toMatch(/gqa\s+94\s+4\s+128\s+192,512\s+40,960\s+235B \(22B active\)\s+8 of 128\s+bf16/);
    expect(row(out, 'deepseek-r1')).toMatch(/671B \(37B active\)\s+8 of 256 \+ 1 shared\s+fp8/);
    expect(row(out, 'qwen3-8b')).toMatch(/8\.2B\s+-\s+bf16/);
  });

  test('gpus, nodes and transports in datasheet units', async () => {
    expect(row(await list('list', 'gpus'), 'h100-sxm')).toMatch(/989\s+1979\s+80\s+3\.35\s+900\s+PCIe Gen5 x16, 64 GB\/s/);
    expect(row(await list('list', 'gpus'), 'a100-80gb')).toMatch(/312\s+-\s+80/);
    expect(row(await list('list', 'nodes'), 'p5.48xlarge')).toContain('32 x efa 100 Gb/s');
    expect(row(await list('list', 'nodes'), 'gb200-nvl72')).toMatch(/gb200\s+4 \(NVLink domain 72\)\s+4 x infiniband 400 Gb\/s\s+nvlink, mnnvl, ib-rdma/);
  });

  test('connectors with the vLLM releases each stands for', async () => {
    const c = await list('list', 'connectors');
    expect(row(c, 'equal-tp')).toMatch(/^equal-tp\s+>=0\.9\.0 <0\.9\.1\s+rejected/);
    expect(row(c, 'decode-wider-tp')).toContain('>=0.9.1 <0.11.0; >=0.11.0 <0.14.0 (abort after 480 s)');
    expect(row(c, 'any-tp')).toMatch(/^any-tp\s+>=0\.14\.0 <0\.22\.0\s+ok/);
    expect(row(c, 'any-tp-hardened')).toMatch(/^any-tp-hardened\s+>=0\.22\.0\s+ok/);
    const t = await list('list', 'transports');
    expect(row(t, 'efa-libfabric')).toMatch(/LIBFABRIC\s+2\.4\/10\/12\.5\s+15\s+20\s+yes\s+yes\s+fails\/fails\/works$/);
    expect(row(t, 'tcp')).toMatch(/0\.1\/0\.1\/3\s+50\s+100\s+no\s+no\s+works\/works\/works$/);
  });

  test('--json prints SI records in a stable key order', async () => {
    const models = JSON.parse(await list('list', 'models', '--json')) as Record<string, unknown>[];
    expect(models.map((m) => m.id)).toEqual([
      'deepseek-r1', 'deepseek-r1-distill-llama-70b', 'deepseek-v3', 'llama-3.1-70b-instruct', 'llama-3.1-70b-instruct-fp8',
      'llama-3.1-8b-instruct', 'qwen3-235b-a22b', 'qwen3-8b',
    ]);
    expect(Object.keys(models[1] ?? {})).toEqual([
      'id', 'name', 'hfRepo', 'attention', 'layers', 'hiddenSize', 'heads', 'kvHeads', 'headDim', 'intermediateSize',
      'vocabSize', 'params', 'activeParams', 'weightDtype', 'kvDtype', 'maxContext', 'sources',
    ]);
    const transports = JSON.parse(await list('list', 'transports', '--json')) as { id: string; bandwidthPerRail: { typical: number }; latencyS: number }[];
    const tcp = transports.find((x) => x.id === 'tcp');
    expect(tcp?.bandwidthPerRail.typical).toBe(1e8);
    expect(tcp?.latencyS).toBe(5e-5);
    expect(await list('list', 'transports', '--json')).toBe(await list('list', 'transports', '--json'));
  });

  test('an unknown kind is a choices error', async () => {
    await expect(list('list', 'modles')).rejects.toThrow(/Invalid values:[\s\S]*kind[\s\S]*Choices: "models", "gpus", "nodes", "transports"/);
  });
});
