import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { audit } from '../../src/audit/audit.js';
import { formatAudit } from '../../src/audit/format.js';
import { ROOT } from '../helpers/cli.js';

describe("docs/planning.md's worked audit", () => {
  it('is what audit prints for the committed example today', async () => {
    const doc = readFileSync(join(ROOT, 'docs/planning.md'), 'utf8');
    const block = /npx nixlsim audit experiments\/measurements\/example\.csv[^\n]*\n```\n\n```\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const cwd = process.cwd();
    process.chdir(ROOT); // the output names files as a user in the project root would type them
    try {
      const r = await audit(['experiments/measurements/example.csv'], { experiment: 'experiments/measurements/p5-disaggregated.yaml' });
      expect(formatAudit(r, 'experiments/measurements/p5-disaggregated.yaml')).toBe(block);
    } finally {
      process.chdir(cwd);
    }
  });
});
