import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog } from '../../catalog/index.js';
import type { Catalog } from '../../spec/catalog.js';
import { EXIT_USER, UserError } from '../../errors.js';
import { experimentFiles } from '../../experiment/files.js';
import { expandPoints, loadExperiment } from '../../experiment/load.js';
import type { Point } from '../../spec/experiment.js';
import { shownPath } from '../../experiment/yaml-errors.js';

export interface Validated {
  /** The file as shown: relative to the working directory when under it. */
  file: string;
  /** Points of its sweep, when it is good. */
  points?: number;
  /** What is wrong with it, naming file:line:col, when it is bad. */
  error?: UserError;
  /** What is allowed but worth knowing (a TP group spanning nodes), one line each. */
  notes?: string[];
}

/** A note for each worker group of a point whose TP spans more GPUs than its node has. */
export function multiNodeNotes(points: readonly Point[], catalog: Catalog): string[] {
  const notes: string[] = [];
  for (const p of points) {
    const d = p.experiment.deployment;
    const groups = d.mode === 'disaggregated' ? (['prefill', 'decode'] as const) : (['aggregated'] as const);
    for (const g of groups) {
      // A group on its own node type spans that node's GPUs and NVLink domain.
      const node = catalog.nodes.get(d[g].node ?? d.node);
      if (!node) continue;
      const tp = d[g].tp;
      if (tp <= node.gpusPerNode) continue;
      const nodes = `${g} TP${tp} spans ${Math.ceil(tp / node.gpusPerNode)} nodes of ${node.gpusPerNode} GPUs (${node.id}): vLLM runs it across nodes`;
      if (tp <= node.nvlinkDomainGpus) {
        notes.push(`point ${p.id}: ${nodes} of one ${node.nvlinkDomainGpus}-GPU NVLink domain, and its all-reduces stay on NVLink`);
        continue;
      }
      const nic = (node.nics.count * node.nics.bandwidth) / node.gpusPerNode / 1e9;
      notes.push(
        `point ${p.id}: ${nodes} (Ray), and its all-reduces cross the NICs at ${Number(nic.toPrecision(3))} GB/s a GPU instead of NVLink`,
      );
    }
  }
  return [...new Set(notes)];
}

/** Loads every file (each point of each sweep validated, nothing run), in order; a bad file does not stop the others. */
export function validateFiles(targets: string[], catalog?: Catalog): Validated[] {
  return experimentFiles(targets).map((file) => {
    const shown = shownPath(resolve(file));
    try {
      const points = expandPoints(loadExperiment(file, catalog ? { catalog } : {}));
      const notes = multiNodeNotes(points, catalog ?? defaultCatalog());
      return { file: shown, points: points.length, ...(notes.length ? { notes } : {}) };
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return { file: shown, error: err };
    }
  });
}

/** `ok experiments/x.yaml (16 points)` */
export function okLine(v: Validated): string {
  return `ok ${v.file} (${v.points} point${v.points === 1 ? '' : 's'})`;
}

interface Args {
  files: string[];
}

export const validateCommand: CommandModule<object, Args> = {
  command: 'validate <files..>',
  describe: 'Check experiment files (every sweep point, extends, expect) without running them; exit 2 if any is bad',
  builder: (y) =>
    y.positional('files', {
      type: 'string',
      array: true,
      demandOption: true,
      describe: 'experiment files, or directories of them (their *.yaml files)',
    }) as unknown as Argv<Args>,
  handler: (a) => {
    let bad = 0;
    for (const v of validateFiles(a.files.map(String))) {
      if (v.error) {
        bad++;
        process.stderr.write(`nixlsim: error: ${v.error.message}\n`);
      } else {
        process.stdout.write(`${okLine(v)}\n`);
        for (const n of v.notes ?? []) process.stderr.write(`nixlsim: note: ${v.file}: ${n}\n`);
      }
    }
    if (bad > 0) process.exitCode = EXIT_USER;
  },
};
