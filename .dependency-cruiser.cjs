/**
 * The layers of src/, bottom to top (docs/architecture.md): a folder imports only folders below it, never one above it
 * and never a peer in its own tier; no two folders import each other, however indirectly; src/ never imports test/ or
 * bench/; every folder has a place in the order. Checked by `npx depcruise src --config .dependency-cruiser.cjs` in
 * `npm test` (test/architecture/layers.test.ts).
 *
 * A tier is a list of folders of src/ (ROOT: the files directly in src/: errors.ts, input.ts, deadline.ts). Folders in
 * one tier are peers: none imports another.
 *
 * Exceptions: none. A fix moves code (a shared type to spec/, orchestration to run/, a helper down to its users'
 * common layer), it does not add one here.
 */
const ROOT = '(root)';
const TIERS = [
  [ROOT], //         errors (UserError, InvariantError), input files, the deadline and heap guards
  ['yaml'], //       file:line:column of a field in YAML/JSON input
  ['spec'], //       what an experiment, a catalog record and a result are; summary.json; canonical JSON; the writer
  ['engine'], //     the kernel: clock, event queue, seeded random streams
  ['demo'], //       the M/M/1 model on the kernel (its test and benchmark)
  ['metrics'], //    histograms, event counts and log lines
  ['catalog'], //    models/*.yaml loaded and validated
  ['physics'], //    pure functions: KV bytes, read plans, step and transfer times
  ['network'], //    links and max-min fair sharing on the kernel
  ['nixl'], //       NIXL agents and the vLLM connector
  ['faults'], //     fault injection on the kernel
  ['workload'], //   request sources: closed loop, Poisson, traces
  ['serving'], //    the deployment on the kernel; simulates one point
  ['measure'], //    readers of measured results
  ['experiment'], // experiment files -> validated points; sweeps, Monte Carlo samples, sensitivity, shards
  ['report'], //     tables, points.csv, report.md/html, charts, baselines, JUnit
  ['run'], //        prepare, simulate on the worker pool, collect, write: every command that runs experiments
  ['audit', 'calibrate', 'fidelity', 'plan'], // tools built on runs
  ['cli'], //        parse, call one function, print
];

/** A path regex group matching the modules of these folders. */
function modules(folders) {
  const alts = folders.map((f) => (f === ROOT ? '[^/]+$' : `${f}/`));
  return `^src/(${alts.join('|')})`;
}

const rules = [];
TIERS.forEach((tier, i) => {
  const above = TIERS.slice(i + 1).flat();
  if (above.length > 0) {
    rules.push({
      name: `layer-${tier.join('-').replace(ROOT, 'root')}`,
      comment: `${tier.join(', ')} may import only layers below: not ${above.join(', ')}`,
      severity: 'error',
      from: { path: modules(tier) },
      to: { path: modules(above) },
    });
  }
  for (const f of tier.length > 1 ? tier : []) {
    rules.push({
      name: `peer-${f}`,
      comment: `${f} and ${tier.filter((g) => g !== f).join(', ')} are peers: none imports another`,
      severity: 'error',
      from: { path: modules([f]) },
      to: { path: modules(tier.filter((g) => g !== f)) },
    });
  }
});

const placed = modules(TIERS.flat());

module.exports = {
  forbidden: [
    ...rules,
    {
      name: 'layer-unplaced',
      comment: 'every folder of src/ has a place in TIERS above: a new folder is placed there before it imports or is imported',
      severity: 'error',
      from: { path: '^src/', pathNot: placed },
      to: {},
    },
    {
      name: 'layer-unplaced-target',
      comment: 'every folder of src/ has a place in TIERS above: a new folder is placed there before it imports or is imported',
      severity: 'error',
      from: {},
      to: { path: '^src/', pathNot: placed },
    },
    {
      name: 'no-folder-cycles',
      comment: 'two folders that import each other, directly or through others, are one layer in disguise',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-test-or-bench',
      comment: 'the product never imports its tests or benchmarks',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing is a typo or a missing dependency',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a type from a layer above is a dependency on it all the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
