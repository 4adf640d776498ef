import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/catalog/load.js';

/**
 * Behaviour as data (#25): what a transport or connector profile does is read from its record (models/), so no
 * transport or profile id may appear in src/ as a string literal outside the catalog code (src/catalog/). Comments may
 * name ids.
 */
const root = projectRoot();

function idsOf(kind: 'transport' | 'connector'): string[] {
  const dir = join(root, 'models', kind);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => /^id:\s*(\S+)\s*$/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? f.replace(/\.yaml$/, ''));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Block and line comments blanked (a line comment only where `//` does not follow a colon, so URLs survive). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:])\/\/[^\n]*/g, '$1');
}

/** `file: id` for every quoted literal ('id', "id", `id`) of a catalog id in src/ outside src/catalog/. */
function offenders(): string[] {
  const ids = [...idsOf('transport'), ...idsOf('connector')];
  const out = new Set<string>();
  for (const file of tsFiles(join(root, 'src'))) {
    const rel = relative(root, file).split('\\').join('/');
    if (rel.startsWith('src/catalog/')) continue;
    const text = code(readFileSync(file, 'utf8'));
    for (const id of ids) {
      const esc = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (new RegExp(`(['"\`])${esc}\\1`).test(text)) out.add(`${rel}: ${id}`);
    }
  }
  return [...out].sort();
}

describe('no transport or connector-profile id in src/ outside src/catalog/', () => {
  it('finds the ids of models/transport and models/connector', () => {
    expect(idsOf('transport')).toContain('tcp');
    expect(idsOf('connector')).toContain('any-tp');
  });

  it('no quoted id literal: the roles they stood for (default profile, fallbacks, display order and colours) are record fields', () => {
    expect(offenders()).toEqual([]);
  });
});
