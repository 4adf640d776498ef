/**
 * Turning zod issues on an experiment file into messages that say what to write instead. Positions (file:line:col for a
 * field path) come from src/yaml/positions.ts, shared with the catalog loader; the wording of value errors here differs
 * from the catalog's ("expected a whole number >= 1, got 0": the expectation comes from the schema's own message, see
 * schema.ts) and is kept apart so that neither file format's messages change behind the other's back.
 */
import { z } from 'zod';
import { unknownNameMessage } from '../catalog/suggest.js';
import { valueAt, type Path, type YamlSource } from '../yaml/positions.js';

export { fieldName, shownPath, valueAt, YamlSource, type Path } from '../yaml/positions.js';

/** A value as an error message quotes it: `0`, `'tcpp'`, `true`, `a list`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `'${v}'`;
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

/** The schema inside the wrappers that do not change which keys an object allows. */
export function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault || s instanceof z.ZodPrefault) {
      s = s.def.innerType as z.ZodType;
    } else return s;
  }
}

/** The option of a discriminated union that `here` selects, if its discriminator names one. */
function option(s: z.ZodDiscriminatedUnion, here: unknown): z.ZodType | undefined {
  const key = s.def.discriminator;
  const value = (here as Record<string, unknown> | undefined)?.[key];
  return (s.options as z.ZodType[]).find((o) => {
    const lit = o instanceof z.ZodObject ? (o.shape as Record<string, z.ZodType>)[key] : undefined;
    return lit instanceof z.ZodLiteral && lit.values.has(value as never);
  });
}

/** The keys a strict object at `path` allows, found by walking the schema alongside the data (for "did you mean"). */
export function allowedKeys(schema: z.ZodType, path: Path, data: unknown): string[] {
  let s: z.ZodType = schema;
  for (let i = 0; ; i++) {
    s = unwrap(s);
    if (s instanceof z.ZodDiscriminatedUnion) {
      const o = option(s, valueAt(data, path.slice(0, i)));
      if (!o) return [];
      s = o;
    }
    const seg = path[i];
    if (seg === undefined) return s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(seg)] ?? z.never();
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return [];
  }
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
export function sortProblems(found: Problem[], y: YamlSource): Problem[] {
  return [...found].sort((a, b) => Number(a.missing ?? false) - Number(b.missing ?? false) || y.offsetOf(a.path) - y.offsetOf(b.path));
}

/** " (and 2 more problems in this file)" */
export function moreSuffix(n: number): string {
  return n > 0 ? ` (and ${n} more problem${n > 1 ? 's' : ''} in this file)` : '';
}
