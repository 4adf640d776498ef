import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** dependency-cruiser's command line, run with this Node (no npx: nothing fetched, no shell). */
const BIN = join(ROOT, 'node_modules', 'dependency-cruiser', (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'dependency-cruiser', 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['depcruise']!);
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

function depcruise(cwd: string): { code: number; out: string } {
  // No colours, whatever the terminal or CI says (under CI=true it colours its report).
  const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  const r = spawnSync(process.execPath, [BIN, 'src', '--config', CONFIG, '--output-type', 'err'], { cwd, encoding: 'utf8', env });
  // eslint-disable-next-line no-control-regex
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`.replace(/\u001b\[[0-9;]*m/g, '') };
}

const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

describe('the layers of src/ (.dependency-cruiser.cjs, docs/architecture.md)', () => {
  it('no folder imports one above it or a peer, no two folders import each other, src/ never imports test/ or bench/', () => {
    const r = depcruise(ROOT);
    expect(r.out).toContain('no dependency violations found');
    expect(r.code).toBe(0);
  });

  it('the rules bite: an import up the order, between peers, into test/ or from an unplaced folder fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixlsim-layers-'));
    tmp.push(dir);
    const files: Record<string, string> = {
      'tsconfig.json': '{ "compilerOptions": { "module": "NodeNext", "moduleResolution": "NodeNext" } }\n',
      'src/errors.ts': 'export const e = 1;\n',
      'src/spec/types.ts': "import { c } from '../cli/main.js';\nexport const s = c;\n",
      'src/cli/main.ts': "import { s } from '../spec/types.js';\nexport const c = s;\n",
      'src/plan/a.ts': "import { b } from '../audit/b.js';\nexport const a = b;\n",
      'src/audit/b.ts': "import { e } from '../errors.js';\nexport const b = e;\n",
      'src/engine/k.ts': "import { h } from '../../test/helper.js';\nexport const k = h;\n",
      'test/helper.ts': 'export const h = 1;\n',
      'src/newfolder/x.ts': "import { e } from '../errors.js';\nexport const x = e;\n",
    };
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    const r = depcruise(dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/layer-spec: src\/spec\/types\.ts → src\/cli\/main\.ts/);
    expect(r.out).toMatch(/peer-plan: src\/plan\/a\.ts → src\/audit\/b\.ts/);
    expect(r.out).toMatch(/no-test-or-bench: src\/engine\/k\.ts → test\/helper\.ts/);
    expect(r.out).toMatch(/layer-unplaced: src\/newfolder\/x\.ts → src\/errors\.ts/);
    expect(r.out).toMatch(/no-folder-cycles/);
  });
});
