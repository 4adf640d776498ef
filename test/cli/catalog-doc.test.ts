import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nixlsimInProcess, ROOT } from '../helpers/cli.js';

/**
 * Every command docs/catalog.md shows runs as shown, from the project root (an optional VAR=value prefix kept as the
 * environment; /tmp/ becomes a fresh temporary directory, so that runs do not meet): in this process as the binary runs
 * it, or through the binary when it has a VAR=value prefix (a variable may be read when the process starts).
 */
const doc = readFileSync(join(ROOT, 'docs', 'catalog.md'), 'utf8');
const commands = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n').filter((l) => /^(\w+=\S+ )*npx nixlsim /.test(l)));

describe('docs/catalog.md', () => {
  it('shows commands', () => {
    expect(commands.length).toBeGreaterThanOrEqual(6);
  });

  const scratch = `${mkdtempSync(join(tmpdir(), 'nixlsim-catalog-doc-'))}/`;
  it.each(commands)('%s', async (line) => {
    const words = line.replaceAll('/tmp/', scratch).split(/\s+/);
    const env: Record<string, string> = {};
    while (/^\w+=/.test(words[0]!)) {
      const [k, v] = words.shift()!.split('=') as [string, string];
      env[k] = v;
    }
    expect(words.slice(0, 2)).toEqual(['npx', 'nixlsim']);
    if (Object.keys(env).length === 0) {
      const r = await nixlsimInProcess(words.slice(2), { env: { NIXLSIM_CATALOG: undefined } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return;
    }
    const base: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
    delete base['NIXLSIM_CATALOG'];
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'nixlsim.js'), ...words.slice(2)], { cwd: ROOT, encoding: 'utf8', env: { ...base, ...env } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it("the example's figures: 8,000 tokens x 131,072 B of KV a token (2 x 32 layers x 8 KV heads x 128 x 2 bytes)", async () => {
    const r = await nixlsimInProcess(['transfer', '--catalog', 'docs/examples/catalog', '--model', 'mistral-7b-instruct-v0.3', '--tokens', '8000', '--prefill-tp', '1', '--decode-tp', '1', '--transport', 'efa-libfabric', '--json']);
    expect((JSON.parse(r.stdout) as { bytesTotal: number }).bytesTotal).toBe(8000 * 131_072);
    expect(doc).toContain('8,000 tokens x 131,072 B');
  });
});
