import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, test } from 'vitest';
import { RandomStream } from '../../src/engine/random.js';
import { UserError } from '../../src/errors.js';
import type { TraceSource, Workload } from '../../src/spec/experiment.js';
import { TraceReader, makeSource, summariseTrace, type RequestSource, type RequestSpec, type TraceFormat, type TraceRecord } from '../../src/workload/index.js';

const FIX = 'test/fixtures/traces';
const AZURE = `${FIX}/azure-code-head.csv`;
const MOONCAKE = `${FIX}/mooncake-conversation-head.jsonl`;

function read(format: TraceFormat, path: string, chunkBytes?: number): TraceRecord[] {
  return [...new TraceReader(format, path, chunkBytes === undefined ? {} : { chunkBytes })];
}

function traceWorkload(trace: Partial<TraceSource> & Pick<TraceSource, 'format' | 'path'>, over: Partial<Workload> = {}): Workload {
  return {
    kind: 'trace',
    concurrency: 1,
    requests: 0,
    warmup: 0,
    rate: 0,
    isl: { mean: 1, stddev: 0 },
    osl: { mean: 1, stddev: 0 },
    trace: { speedup: 1, ...trace, path: resolve(trace.path) },
    ...over,
  };
}

function source(w: Workload, maxContext = 131072): RequestSource {
  return makeSource(w, { lengths: new RandomStream('l'), arrivals: new RandomStream('a') }, { maxContext });
}

function drain(src: RequestSource): RequestSpec[] {
  const out: RequestSpec[] = [];
  for (let r = src.next(); r !== null; r = src.next()) out.push(r);
  return out;
}

describe('Azure LLM 2023 CSV', () => {
  it('parses the first rows exactly', () => {
    const recs = read('azure', AZURE);
    // Header + 50 rows, CRLF line endings as in the real file.
    expect(recs).toHaveLength(50);
    expect(recs[0]).toEqual({ line: 2, row: 1, offsetS: 0, isl: 4808, osl: 10 });
    // 18:17:04.0319600 - 18:17:03.9799600 = 0.0520000 s.
    expect(recs[1]).toEqual({ line: 3, row: 2, offsetS: 0.052, isl: 3180, osl: 8 });
    // 18:17:04.0781490 - 18:17:03.9799600 = 0.0981890 s.
    expect(recs[2]).toEqual({ line: 4, row: 3, offsetS: 0.098189, isl: 110, osl: 27 });
    // Rows 9 and 10 are 25 us apart: 18:17:05.2792720 and 18:17:05.2792970; offsets 1.2993120 and 1.2993370 s.
    expect(recs[8]!.offsetS).toBe(1.299312);
    expect(recs[9]!.offsetS).toBe(1.299337);
    expect(recs[9]!.offsetS - recs[8]!.offsetS).toBeCloseTo(0.000025, 12);
  });

  it('replays with arrival = offset / speedup', () => {
    const at1 = drain(source(traceWorkload({ format: 'azure', path: AZURE })));
    const at2 = drain(source(traceWorkload({ format: 'azure', path: AZURE, speedup: 2 })));
    expect(at1).toHaveLength(50);
    expect(at1[1]!.arrivalS).toBe(0.052);
    // Twice as fast: every gap halves; 0.052 / 2 = 0.026.
    expect(at2[1]!.arrivalS).toBe(0.026);
    at2.forEach((r, i) => expect(r.arrivalS).toBeCloseTo(at1[i]!.arrivalS! / 2, 12));
    expect(at1[0]).toEqual({ index: 0, id: 'req-0', arrivalS: 0, isl: 4808, osl: 10, warmup: false });
  });

  it('turns a row with 0 output tokens into 1 and counts it', () => {
    // Row 2 (line 3) of this fixture has GeneratedTokens 0.
    const src = source(traceWorkload({ format: 'azure', path: `${FIX}/azure-zero-output.csv` }));
    const reqs = drain(src);
    expect(reqs.map((r) => r.osl)).toEqual([10, 1, 27, 14]);
    expect(src.clamped).toBe(1);
    expect(src.total).toBeUndefined();
  });
});

describe('Mooncake JSONL', () => {
  it('parses the first rows and their hash_ids', () => {
    const recs = read('mooncake', MOONCAKE);
    expect(recs).toHaveLength(50);
    // 6758 tokens = 13 full 512-token blocks + 102 tokens: 14 hashes.
    expect(recs[0]).toEqual({ line: 1, row: 1, offsetS: 0, isl: 6758, osl: 500, hashIds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] });
    // Row 17: 915 tokens, 2 blocks, sharing block 0 with every other conversation (the system prompt).
    expect(recs[16]).toEqual({ line: 17, row: 17, offsetS: 3, isl: 915, osl: 355, hashIds: [0, 462] });
    // Row 11 is the first at 3000 ms; row 27 at 5999 ms.
    expect(recs[9]!.offsetS).toBe(0);
    expect(recs[10]!.offsetS).toBe(3);
    expect(recs[26]!.offsetS).toBe(5.999);
  });

  it('replays hash ids, 512 tokens a block, and halves gaps at speedup 2', () => {
    const reqs = drain(source(traceWorkload({ format: 'mooncake', path: MOONCAKE, speedup: 2 })));
    expect(reqs[0]!.hashIds).toHaveLength(14);
    expect(reqs[0]!.hashBlockTokens).toBe(512);
    expect(reqs[10]!.arrivalS).toBe(1.5); // 3000 ms / 1000 / 2
    expect(reqs[26]!.arrivalS).toBe(2.9995); // 5999 ms / 1000 / 2
  });

  it('cuts prompts to the context, and their hash ids with them', () => {
    // maxContext 16384, first 10 rows: rows 7 (23141 + 453), 8 (26888 + 458) and 10 (17450 + 610) do not fit.
    // Row 7 becomes 16384 - 453 = 15931 tokens = ceil(15931 / 512) = 32 blocks (of its 46).
    const src = source(traceWorkload({ format: 'mooncake', path: MOONCAKE, limit: 10 }), 16384);
    const reqs = drain(src);
    expect(reqs).toHaveLength(10);
    expect(src.clamped).toBe(3);
    expect(reqs[6]).toMatchObject({ isl: 15931, osl: 453 });
    expect(reqs[6]!.hashIds).toHaveLength(32);
    expect(reqs[6]!.hashIds!.slice(0, 3)).toEqual([0, 68, 69]);
    expect(reqs[0]!.hashIds).toHaveLength(14); // untouched
  });

  it('skips blank lines but keeps counting them as lines', () => {
    // Lines 3 and 4 are blank, so row 3 is on line 5.
    const recs = read('mooncake', `${FIX}/mooncake-blank-lines.jsonl`);
    expect(recs.map((r) => [r.line, r.row])).toEqual([[1, 1], [2, 2], [5, 3], [6, 4]]);
  });
});

describe('caps and warm-up on a trace', () => {
  it('limit caps the records replayed, warm-up included', () => {
    const reqs = drain(source(traceWorkload({ format: 'azure', path: AZURE, limit: 5 }, { warmup: 2 })));
    expect(reqs.map((r) => r.warmup)).toEqual([true, true, false, false, false]);
  });

  it('workload.requests caps too, and the tighter cap wins', () => {
    expect(drain(source(traceWorkload({ format: 'azure', path: AZURE }, { requests: 7 })))).toHaveLength(7);
    expect(drain(source(traceWorkload({ format: 'azure', path: AZURE, limit: 5 }, { requests: 7 })))).toHaveLength(5);
    expect(drain(source(traceWorkload({ format: 'azure', path: AZURE, limit: 9 }, { requests: 7 })))).toHaveLength(7);
    // A cap beyond the file stops at its end; limit 0 means no cap.
    expect(drain(source(traceWorkload({ format: 'azure', path: AZURE, limit: 500 })))).toHaveLength(50);
    expect(drain(source(traceWorkload({ format: 'azure', path: AZURE, limit: 0 })))).toHaveLength(50);
  });

  it('rejects a speedup that is not > 0', () => {
    expect(() => source(traceWorkload({ format: 'azure', path: AZURE, speedup: 0 }))).toThrow(/workload\.trace\.speedup/);
  });
});

describe('streaming', () => {
  it('gives the same records whatever the chunk size (lines and CRLF split across chunks)', () => {
    const whole = read('azure', AZURE);
    for (const chunk of [1, 2, 7, 64, 1000]) expect(read('azure', AZURE, chunk)).toEqual(whole);
    const mc = read('mooncake', MOONCAKE);
    for (const chunk of [1, 3, 100]) expect(read('mooncake', MOONCAKE, chunk)).toEqual(mc);
  });

  it('reads lazily: ten records read only the chunks they need', () => {
    // The fixture is 9,864 bytes; in 512-byte chunks, ten records (the longest of them ~500 bytes) need a few chunks.
    const r = new TraceReader('mooncake', MOONCAKE, { chunkBytes: 512 });
    for (let i = 0; i < 10; i++) expect(r.next().done).toBe(false);
    expect(r.stats.records).toBe(10);
    expect(r.stats.linesRead).toBe(10);
    expect(r.stats.bytesRead).toBeLessThan(3000);
  });

  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-traces-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ignores a byte-order mark before the header, however the chunks fall', () => {
    const file = join(dir, 'bom.csv');
    writeFileSync(file, '\uFEFFTIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n');
    for (const chunk of [1, 2, 3, 4, 1024]) expect(read('azure', file, chunk)).toEqual([{ line: 2, row: 1, offsetS: 0, isl: 4808, osl: 10 }]);
  });

  it('reads back what was written, for any records and chunk size', () => {
    const record = fc.record({
      dt: fc.integer({ min: 0, max: 5000 }),
      isl: fc.integer({ min: 0, max: 200_000 }),
      osl: fc.integer({ min: 0, max: 5000 }),
      hashIds: fc.array(fc.nat(), { maxLength: 8 }),
    });
    let run = 0;
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 300 }), fc.boolean(), (recs, chunk, crlf) => {
        const file = join(dir, `t${run++}.jsonl`);
        let t = 1000;
        const times = recs.map((r) => (t += r.dt));
        const lines = recs.map((r, i) => JSON.stringify({ timestamp: times[i], input_length: r.isl, output_length: r.osl, hash_ids: r.hashIds }));
        writeFileSync(file, lines.join(crlf ? '\r\n' : '\n') + (run % 2 === 0 ? '\n' : ''));
        const got = read('mooncake', file, chunk);
        expect(got.map((g) => [g.isl, g.osl, g.hashIds, g.offsetS])).toEqual(recs.map((r, i) => [r.isl, r.osl, r.hashIds, (times[i]! - times[0]!) / 1000]));
      }),
      { seed: 42, numRuns: 100 },
    );
  });
});

describe('summariseTrace', () => {
  it('counts rows and means in one pass', () => {
    // First 4 Azure rows of the zero-output fixture: isl 4808 + 3180 + 110 + 7433 = 15531, / 4 = 3882.75.
    const s = summariseTrace('azure', `${FIX}/azure-zero-output.csv`);
    expect(s).toMatchObject({ records: 4, meanIsl: 3882.75, zeroOutput: 1 });
    // 18:17:04.1206440 - 18:17:03.9799600 = 0.1406840 s.
    expect(s.durationS).toBeCloseTo(0.140684, 12);
  });
});

function errorOf(format: TraceFormat, file: string): UserError {
  try {
    read(format, `${FIX}/${file}`);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error(`${file} read without error`);
}

/**
 * Each broken fixture is a few real rows with one mistake. Line numbers are counted by hand in the fixture: for the
 * CSVs, line = row + 1 (the header is line 1); for JSONL, line = row. Messages are `<file>:<line>: row <n>: <field> ...`.
 */
describe('a broken trace names file, line, row and field', () => {
  const HDR = "expected the header 'TIMESTAMP,ContextTokens,GeneratedTokens'";
  test.each([
    ['azure', 'azure-empty.csv', `${FIX}/azure-empty.csv:1: `, `the trace file is empty; ${HDR} and then one row per request`],
    // An empty file or one without rows: at the line where a row was expected (after the 1-line header; after 3 blank lines).
    ['azure', 'azure-header-only.csv', `${FIX}/azure-header-only.csv:2: `, 'no requests: the file has a header but no rows'],
    ['azure', 'azure-no-header.csv', `${FIX}/azure-no-header.csv:1: header: `, `missing; ${HDR} as the first line, got a data row '2023-11-16 18:17:03.9799600,4808,10'`],
    ['azure', 'azure-unknown-column.csv', `${FIX}/azure-unknown-column.csv:1: header: `, `unknown column 'ContextToken'; ${HDR}`],
    ['azure', 'azure-missing-column.csv', `${FIX}/azure-missing-column.csv:1: header: `, `no GeneratedTokens column; ${HDR}`],
    ['azure', 'azure-wrong-column-count.csv', `${FIX}/azure-wrong-column-count.csv:9: row 8: `, 'expected 3 columns (TIMESTAMP,ContextTokens,GeneratedTokens), got 2'],
    ['azure', 'azure-bad-number.csv', `${FIX}/azure-bad-number.csv:17: row 16: `, "ContextTokens must be a whole number >= 0, got 'abc'"],
    ['azure', 'azure-negative.csv', `${FIX}/azure-negative.csv:6: row 5: `, "GeneratedTokens must be a whole number >= 0, got '-3'"],
    ['azure', 'azure-bad-timestamp.csv', `${FIX}/azure-bad-timestamp.csv:4: row 3: `, "TIMESTAMP must be a date and time like '2023-11-16 18:17:03.9799600', got '2023-11-16 18:17:04.078149x'"],
    ['azure', 'azure-backwards.csv', `${FIX}/azure-backwards.csv:12: row 11: `, "TIMESTAMP goes back in time: '2023-11-16 18:17:03.0000000' is before the previous row's '2023-11-16 18:17:05.2792970'"],
    ['mooncake', 'mooncake-bad-json.jsonl', `${FIX}/mooncake-bad-json.jsonl:4: row 4: `, 'not valid JSON ('],
    ['mooncake', 'mooncake-not-object.jsonl', `${FIX}/mooncake-not-object.jsonl:3: row 3: `, 'expected a JSON object like {"timestamp": 0, '],
    ['mooncake', 'mooncake-missing-field.jsonl', `${FIX}/mooncake-missing-field.jsonl:6: row 6: `, 'output_length is missing'],
    ['mooncake', 'mooncake-negative.jsonl', `${FIX}/mooncake-negative.jsonl:7: row 7: `, 'input_length must be a whole number >= 0, got -1'],
    ['mooncake', 'mooncake-string-length.jsonl', `${FIX}/mooncake-string-length.jsonl:2: row 2: `, 'output_length must be a whole number >= 0, got "490"'],
    ['mooncake', 'mooncake-bad-hash.jsonl', `${FIX}/mooncake-bad-hash.jsonl:3: row 3: `, 'hash_ids[2] must be a whole number >= 0, got -29'],
    ['mooncake', 'mooncake-backwards.jsonl', `${FIX}/mooncake-backwards.jsonl:3: row 3: `, "timestamp goes back in time: 2999 ms is before the previous record's 3000 ms"],
    ['mooncake', 'mooncake-blank-only.jsonl', `${FIX}/mooncake-blank-only.jsonl:4: `, 'no requests: the file has no records'],
    ['azure', 'does-not-exist.csv', `${FIX}/does-not-exist.csv: `, 'cannot read the trace file: no such file'],
  ] as const)('%s %s', (format, file, where, what) => {
    const msg = errorOf(format, file).message;
    expect(msg.startsWith(where), msg).toBe(true);
    expect(msg.slice(where.length).startsWith(what), msg).toBe(true);
    expect(msg).not.toContain('\n');
  });

  it('an empty or headerless file fails when the source is made, before the simulation starts', () => {
    expect(() => source(traceWorkload({ format: 'azure', path: `${FIX}/azure-empty.csv` }))).toThrow(/the trace file is empty/);
    expect(() => source(traceWorkload({ format: 'azure', path: `${FIX}/azure-header-only.csv` }))).toThrow(/no requests/);
  });

  it('a bad row later on fails when the replay reaches it, after the rows before it', () => {
    const src = source(traceWorkload({ format: 'azure', path: `${FIX}/azure-bad-number.csv` }));
    for (let i = 0; i < 15; i++) expect(src.next()?.index).toBe(i);
    expect(() => src.next()).toThrow(/azure-bad-number\.csv:17: row 16: ContextTokens/);
  });
});
