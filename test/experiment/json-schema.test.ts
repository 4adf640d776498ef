import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { experimentJsonSchema, experimentJsonSchemaText, SCHEMA_FILE } from '../../src/experiment/json-schema.js';
import { ROOT } from '../helpers/cli.js';
import { FIXTURES } from './helpers.js';

const committed = () => readFileSync(join(ROOT, SCHEMA_FILE), 'utf8');

describe('experiments/schema.json', () => {
  it('is what the zod schema generates, byte for byte', () => {
    // On failure: run `npm run schema` (it rebuilds and rewrites experiments/schema.json), then commit the file.
    const fresh = experimentJsonSchemaText();
    expect(committed() === fresh, 'experiments/schema.json is stale: run `npm run schema` and commit it').toBe(true);
  });

  it('is draft 7, titled, with the descriptions and defaults of the zod schema', () => {
    const s = experimentJsonSchema() as { $schema: string; title: string; properties: Record<string, { properties?: Record<string, Record<string, unknown>> }> };
    expect(s.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(s.title).toBe('nixlsim experiment file');
    const engine = s.properties['deployment']!.properties!['engine'] as { properties: Record<string, Record<string, unknown>> };
    // No default in the file format: unset, the GPU's vLLM default applies (get_batch_defaults), which the text names.
    expect(engine.properties['maxNumBatchedTokens']).toMatchObject({ type: 'integer', minimum: 1 });
    expect(engine.properties['maxNumBatchedTokens']).not.toHaveProperty('default');
    expect(engine.properties['maxNumBatchedTokens']!['description']).toMatch(/max_num_batched_tokens.*get_batch_defaults/);
  });

  // z.fromJSONSchema reads the schema back as a validator: what an editor would accept or flag.
  const validator = z.fromJSONSchema(JSON.parse(committed()));
  const yaml = (file: string) => parse(readFileSync(file, 'utf8')) as unknown;

  it('accepts the seed experiments and the good fixtures', () => {
    const seeds = join(ROOT, 'experiments/seeds');
    const files = [
      ...readdirSync(seeds).map((f) => join(seeds, f)),
      ...['minimal.yaml', 'minimal.json', 'full.yaml', 'sweep.yaml', 'zip.yaml', 'zip-list.yaml', 'trace.yaml', 'check/tiny.yaml'].map((f) => join(FIXTURES, f)),
    ];
    for (const f of files) expect(validator.safeParse(yaml(f)).error?.issues, f).toBeUndefined();
  });

  it('accepts a file that extends another and writes only what it changes', () => {
    for (const f of ['child.yaml', 'grandchild.yaml']) expect(validator.safeParse(yaml(join(FIXTURES, 'extends', f))).success, f).toBe(true);
  });

  it('flags misspelt keys, sweep paths, metrics and enum values', () => {
    const bad = [
      { deployment: { prefill: { tpp: 2 } } },
      { deployment: { placement: 'cross-nod' } },
      { sweep: { 'deployment.transprt': ['tcp'] } },
      { sweep: { zip: { 'deployment.transport': [] } } },
      { faults: [{ kind: 'link_down', at: [1] }] }, // a list item must be whole: durationS and target missing
      { expect: [{ metric: 'ttftMs.mn', value: 1, tolerance: { relative: 0.1 }, source: 's' }] },
      { expect: [{ metric: 'ttftMs.min', value: 1, tolerance: {}, source: 's' }] },
      { expect: [{ metric: 'ttftMs.min', value: 1, tolerance: { relative: 0.1 } }] },
      { expect: [{ point: { 'workload.isl.meen': 1 }, metric: 'ttftMs.min', value: 1, tolerance: { relative: 0.1 }, source: 's' }] },
      { extends: 3 },
    ];
    for (const b of bad) expect(validator.safeParse(b).success, JSON.stringify(b)).toBe(false);
    const good = { expect: [{ point: { 'workload.isl.mean': 1 }, metric: 'utilisation.links.decode-0.rank0.nic', value: 1, tolerance: { absolute: 1 }, source: 's' }] };
    expect(validator.safeParse(good).success).toBe(true);
  });
});
