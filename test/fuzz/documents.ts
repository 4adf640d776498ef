/**
 * Fuzz inputs: experiment documents, valid and mutated. A valid document is a tiny experiment (a few requests of a few
 * thousand tokens) on a catalog combination that can run; a mutated one has up to three of its fields replaced by hostile
 * values (out of range, of the wrong type, a device path, a huge or tiny number), removed, or joined by an unknown
 * field, or its YAML text cut or spliced with YAML's own punctuation. Shared by the fuzz tests (`npm test`, a few
 * hundred cases) and the long run (`npm run fuzz -- --runs N`).
 */
import fc from 'fast-check';
import { stringify } from 'yaml';

const TRACES = new URL('../fixtures/traces/', import.meta.url).pathname;

/** Catalog combinations that run: (node, transport, placement). */
const SETUPS = [
  { node: 'p5.48xlarge', transport: 'efa-libfabric', placement: 'cross-node' },
  { node: 'p5.48xlarge', transport: 'tcp', placement: 'cross-node' },
  { node: 'dgx-h100', transport: 'ib-rdma', placement: 'cross-node' },
  { node: 'dgx-h100', transport: 'nvlink', placement: 'same-node' },
] as const;

const group = fc.record({ workers: fc.integer({ min: 1, max: 2 }), tp: fc.constantFrom(1, 2, 4, 8) });
const lengths = (max: number) => fc.record({ mean: fc.integer({ min: 1, max }), stddev: fc.integer({ min: 0, max: 50 }) });

const workload = fc.oneof(
  fc.record({ kind: fc.constant('closed-loop'), concurrency: fc.integer({ min: 1, max: 4 }), requests: fc.integer({ min: 1, max: 12 }), warmup: fc.integer({ min: 0, max: 2 }), isl: lengths(3000), osl: lengths(20) }),
  fc.record({ kind: fc.constant('poisson'), rate: fc.double({ min: 0.5, max: 50, noNaN: true }), requests: fc.integer({ min: 1, max: 12 }), isl: lengths(3000), osl: lengths(20) }),
  fc.record({
    kind: fc.constant('trace'),
    trace: fc.oneof(
      fc.record({ format: fc.constant('mooncake'), path: fc.constant(`${TRACES}mooncake-conversation-head.jsonl`), speedup: fc.constantFrom(1, 10), limit: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ format: fc.constant('azure'), path: fc.constant(`${TRACES}azure-code-head.csv`), speedup: fc.constantFrom(1, 10), limit: fc.integer({ min: 1, max: 12 }) }),
    ),
  }),
);

const faults = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('connection_reset'), probability: fc.double({ min: 0, max: 0.3, noNaN: true }) }),
    fc.record({ kind: fc.constant('health_503'), rate: fc.double({ min: 0.01, max: 5, noNaN: true }) }),
  ),
  { maxLength: 2 },
);

/** A valid experiment document (as plain data). */
export const validDocument = fc
  .record({
    seed: fc.integer({ min: 0, max: 1000 }),
    setup: fc.constantFrom(...SETUPS),
    mode: fc.constantFrom('aggregated', 'disaggregated'),
    prefill: group,
    decode: group,
    aggregated: group,
    workload,
    faults,
    sweep: fc.option(fc.uniqueArray(fc.integer({ min: 16, max: 2000 }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  })
  .map((d) => ({
    name: 'fuzz',
    seed: d.seed,
    deployment: {
      mode: d.mode,
      model: 'llama-3.1-8b-instruct',
      node: d.setup.node,
      connector: 'any-tp',
      transport: d.setup.transport,
      placement: d.setup.placement,
      prefill: d.prefill,
      decode: d.decode,
      aggregated: d.aggregated,
    },
    workload: d.workload,
    ...(d.faults.length > 0 ? { faults: d.faults } : {}),
    ...(d.sweep && d.workload.kind !== 'trace' ? { sweep: { 'workload.isl.mean': d.sweep } } : {}),
  }));

/** Values no field should take, or should take only with care. */
const HOSTILE: unknown[] = [
  -1, 0, 0.5, 1e308, -1e308, 5e-324, 1e-300, 2 ** 30, 2 ** 53 + 2, 1e8, 1e12, Number.MAX_SAFE_INTEGER,
  '', ' ', 'x', 'NaN', 'Infinity', '-1', '1e9', 'aggregated', 'tcp', 'llama-3.1-8b-instruct', 'é', 'a'.repeat(5000),
  '/dev/zero', '/dev/null', '/', '../../../../etc/passwd', '/proc/self/mem', 'no-such-file.csv',
  null, true, false, [], {}, [1, 2, 3], { a: 1 }, [[[[[]]]]], { '': null },
];

type Path = (string | number)[];

/** Every path into a document: objects' keys and arrays' indices, inner nodes included. */
function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push([...at, i], ...paths(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([...at, k], ...paths(x, [...at, k]));
  return out;
}

function parentOf(doc: unknown, path: Path): Record<string | number, unknown> {
  let cur = doc as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  return cur;
}

export interface Mutation {
  at: number;
  op: 'replace' | 'delete' | 'unknown-key' | 'wrap';
  value: unknown;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('replace', 'replace', 'replace', 'delete', 'unknown-key', 'wrap'),
  value: fc.oneof(fc.constantFrom(...HOSTILE), fc.double(), fc.integer(), fc.string({ maxLength: 20 })),
});

/** The document with the mutations applied, each at a path picked among the document's paths at that time. */
export function mutate(doc: unknown, mutations: readonly Mutation[]): unknown {
  const d = structuredClone(doc);
  for (const m of mutations) {
    const all = paths(d);
    if (all.length === 0) break;
    const path = all[m.at % all.length]!;
    const parent = parentOf(d, path);
    const key = path[path.length - 1]!;
    if (m.op === 'replace') parent[key] = m.value;
    else if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else if (m.op === 'unknown-key') {
      if (!Array.isArray(parent)) parent[`${String(key)}Typo`] = m.value;
    } else parent[key] = [parent[key]];
  }
  return d;
}

/** YAML punctuation to splice into a document's text. */
const SPLICES = [':', '- ', '[', ']', '{', '}', '&a ', '*a', '!!binary ', '\t', '\n', '#', '"', "'", '<<: *a', '---\n', '%YAML 1.1\n', '? ', '|', '>', '\u0000', '\ufeff'];

export interface TextEdit {
  at: number;
  cut: number;
  insert: string;
}

const textEdit: fc.Arbitrary<TextEdit> = fc.record({ at: fc.nat(), cut: fc.integer({ min: 0, max: 20 }), insert: fc.oneof(fc.constantFrom(...SPLICES), fc.constant('')) });

/** The text with the edits applied at positions taken modulo its length. */
export function editText(text: string, edits: readonly TextEdit[]): string {
  let t = text;
  for (const e of edits) {
    const at = t.length === 0 ? 0 : e.at % t.length;
    t = t.slice(0, at) + e.insert + t.slice(at + e.cut);
  }
  return t;
}

export interface DocumentCase {
  kind: 'valid' | 'mutated' | 'text';
  text: string;
}

/** A fuzz case: a valid document, a mutated one, or a document's text cut and spliced (about a third each). */
export const documentCase: fc.Arbitrary<DocumentCase> = fc.oneof(
  validDocument.map((d): DocumentCase => ({ kind: 'valid', text: stringify(d) })),
  fc.tuple(validDocument, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([d, ms]): DocumentCase => ({ kind: 'mutated', text: stringify(mutate(d, ms)) })),
  fc.tuple(validDocument, fc.array(textEdit, { minLength: 1, maxLength: 3 })).map(([d, es]): DocumentCase => ({ kind: 'text', text: editText(stringify(d), es) })),
);
