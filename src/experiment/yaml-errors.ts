/**
 * Turning zod issues on an experiment file into messages that say what to write instead. Positions (file:line:col for a
 * field path) come from src/yaml/positions.ts, shared with the catalog loader; the wording of value errors here differs
 * from the catalog's ("expected a whole number >= 1, got 0": the expectation comes from the schema's own message, see
 * src/spec/experiment-schema.ts) and is kept apart so that neither file format's messages change behind the other's
 * back.
 */
import { z } from 'zod';
import { unknownNameMessage } from '../catalog/suggest.js';
import { InvariantError, quoted, UserError } from '../errors.js';
import { shownPath, valueAt, type Path, type YamlSource } from '../yaml/positions.js';
import { allowedKeys } from '../yaml/schema-keys.js';

export { fieldName, shownPath, valueAt, YamlSource, type Path } from '../yaml/positions.js';

/** A value as an error message quotes it: `0`, `'tcpp'`, `true`, `a list`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return quoted(v);
  return String(v);
}

// ---------------------------------------------------------------------------------------------------------------------
// zod issues -> problems

/** One thing wrong with a field. `also` lists other fields the problem involves (e.g. the model a TP is checked against),
 * so that the report can point at whichever of them the user actually set from a sweep or the command line. */
export interface Problem {
  path: Path;
  message: string;
  also?: Path[];
  /** A required key that is absent: often the echo of a misspelt key, so reported after everything else. */
  missing?: boolean;
}


/**
 * Zod issues in words that tell the user what to write instead. Schema messages that start with "expected" state the
 * expectation only; the value found is appended here, where the data is at hand.
 */
export function zodProblems(issues: readonly z.core.$ZodIssue[], schema: z.ZodType, data: unknown): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: [...path, key], message: unknownNameMessage('key', key, allowedKeys(schema, path, data)) });
      }
      continue;
    }
    const got = valueAt(data, path);
    const missing = got === undefined;
    if (issue.code === 'custom') out.push({ path, message: issue.message });
    else if (missing) out.push({ path, missing, message: `missing; ${issue.message}` });
    else out.push({ path, message: `${issue.message}, got ${describe(got)}` });
  }
  return out;
}

/** Problems in the order a reader fixes them: first in the file, except that a missing key waits behind an unknown one
 * (`tp` missing is usually the echo of `tpp: 2`). */
export function sortProblems(found: Problem[], y: Pick<YamlSource, 'offsetOf'>): Problem[] {
  return [...found].sort((a, b) => Number(a.missing ?? false) - Number(b.missing ?? false) || y.offsetOf(a.path) - y.offsetOf(b.path));
}

/** " (and 2 more problems in this file)" */
export function moreSuffix(n: number): string {
  return n > 0 ? ` (and ${n} more problem${n > 1 ? 's' : ''} in this file)` : '';
}

// ---------------------------------------------------------------------------------------------------------------------
// Files that extend others

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One file of an `extends` chain: its parsed text and the data it contributes (keys it does not pass on removed). */
export interface Layer {
  y: YamlSource;
  data: Record<string, unknown>;
}

/** Offsets of different files sort apart: every field of the file loaded before any of the file it extends. */
const LAYER_STRIDE = 2 ** 32;

/**
 * The fields of a file that extends another (and so on), each pointing into the file it came from: an error in a
 * value the extended file wrote is reported at that file's line and column. Maps merge, so a map's keys may come from
 * several files; anything else (a scalar, a list) comes whole from the nearest file that writes it.
 */
export class LayeredSource {
  /** @param layers the file loaded first, then the file it extends, and so on. */
  constructor(readonly layers: Layer[]) {
    if (layers.length === 0) throw new InvariantError('LayeredSource needs at least one file');
  }

  /** The file loaded (not one it extends). */
  get file(): string {
    return this.layers[0]!.y.file;
  }

  /** The merged data: each file deep-merged over the one it extends (maps merge; lists and scalars replace). */
  merged(): Record<string, unknown> {
    let out: Record<string, unknown> = {};
    for (let i = this.layers.length - 1; i >= 0; i--) out = deepMerge(out, this.layers[i]!.data) as Record<string, unknown>;
    return out;
  }

  /** The index of the file whose text holds the value at `path` (or, for a missing key, the map it would go in). */
  ownerIndex(path: Path): number {
    let candidates = this.layers.map((_, i) => i);
    for (let k = 1; k <= path.length; k++) {
      const prefix = path.slice(0, k);
      const have = candidates.filter((i) => valueAt(this.layers[i]!.data, prefix) !== undefined);
      if (have.length === 0) return candidates[0]!;
      // The nearest file wins a scalar or a list outright; a map merges with the maps beneath it, down to a non-map.
      const maps: number[] = [];
      for (const i of have) {
        if (!isMap(valueAt(this.layers[i]!.data, prefix))) break;
        maps.push(i);
      }
      if (maps.length === 0) return have[0]!;
      candidates = maps;
    }
    return candidates[0]!;
  }

  owner(path: Path): YamlSource {
    return this.layers[this.ownerIndex(path)]!.y;
  }

  where(path: Path, shown: Path = path): string {
    const y = this.owner(path);
    return y.where(path, y.offsetOf(path), shown);
  }

  fail(path: Path, message: string): never {
    throw new UserError(message, this.where(path));
  }

  /** Sortable across files: the file loaded first, then the file it extends, each in text order. */
  offsetOf(path: Path): number {
    const i = this.ownerIndex(path);
    return i * LAYER_STRIDE + this.layers[i]!.y.offsetOf(path);
  }

  /** `line 12` when `path` is written in the same file as `from`, else `other.yaml:12`: for "already ... at ...". */
  lineRef(path: Path, from: Path): string {
    const y = this.owner(path);
    const { line } = y.lc.linePos(y.offsetOf(path));
    return y === this.owner(from) ? `line ${line}` : `${shownPath(y.file)}:${line}`;
  }
}

/** `over` deep-merged over `base`: maps merge key by key (base's keys first), anything else in `over` replaces. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return structuredClone(over);
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : structuredClone(v);
  return out;
}

/** `a.yaml -> b.yaml -> a.yaml`: files as the user would type them. */
export function chainText(files: string[]): string {
  return files.map(shownPath).join(' -> ');
}
