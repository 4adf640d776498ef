/**
 * Pointing at a field of a YAML (or JSON) file: parse with positions kept, turn a field path into file:line:col, and
 * turn zod issues into messages that say what to write instead. The catalog loader (src/catalog/load.ts) does the same
 * for models/; this copy differs in the wording of value errors ("expected a whole number >= 1, got 0": the expectation
 * comes from the schema's own message, see schema.ts) and is kept apart so that neither file format's messages change
 * behind the other's back.
 */
import { isAbsolute, relative } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { unknownNameMessage } from '../catalog/suggest.js';

export type Path = (string | number)[];

/** Paths in messages are relative to where the user stands, as they would type them. */
export function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** `deployment.prefill.tp`, `faults[2].rate`: how a user would name the field. */
export function fieldName(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** A value as an error message quotes it: `0`, `'tcpp'`, `true`, `a list`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `'${v}'`;
  return String(v);
}

/** A parsed YAML file that can point at its own fields. */
export class YamlSource {
  readonly lc = new LineCounter();
  readonly doc: Document;

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lc, prettyErrors: true, uniqueKeys: true });
  }

  /** Throws the first syntax error, naming the field it sits in when there is one. */
  checkSyntax(): void {
    const err = this.doc.errors[0];
    if (!err) return;
    // yaml's own message carries a code snippet after "at line N, column M:"; our prefix already has the position.
    const msg = err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').trim();
    // The parser notices some mistakes (an unclosed brace) only on a later line, so the field is a hint, not a verdict.
    const near = this.pathAt(err.pos[0]);
    this.fail([], `YAML syntax error${near.length ? ` near ${fieldName(near)}` : ''}: ${msg}`, err.pos[0]);
  }

  /**
   * Offset of a field: its key when it exists (that is where a reader looks), else the innermost existing parent,
   * which is where a missing key would have to be added.
   */
  offsetOf(path: Path): number {
    let cur: unknown = this.doc.contents;
    let at = (cur as YamlNode | null)?.range?.[0] ?? 0;
    for (const [i, seg] of path.entries()) {
      const last = i === path.length - 1;
      if (isMap(cur)) {
        const pair = cur.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return at;
        if (last && isScalar(pair.key) && pair.key.range) return pair.key.range[0];
        cur = pair.value;
      } else if (isSeq(cur) && typeof seg === 'number' && seg < cur.items.length) {
        cur = cur.items[seg];
      } else {
        return at;
      }
      at = (cur as YamlNode | null)?.range?.[0] ?? at;
    }
    return at;
  }

  /** `experiments/x.yaml:12:5 deployment.prefill.tp`; `shown` names the field when it differs from the path walked. */
  where(path: Path, offset = this.offsetOf(path), shown: Path = path): string {
    const { line, col } = this.lc.linePos(offset);
    const field = shown.length ? ` ${fieldName(shown)}` : '';
    return `${shownPath(this.file)}:${Math.max(line, 1)}:${Math.max(col, 1)}${field}`;
  }

  fail(path: Path, message: string, offset?: number): never {
    throw new UserError(message, this.where(path, offset));
  }

  /** The deepest field whose key or value spans `offset`. */
  pathAt(offset: number): Path {
    const path: Path = [];
    let cur: unknown = this.doc.contents;
    for (;;) {
      let next: { seg: string | number; node: unknown } | undefined;
      if (isMap(cur)) {
        for (const p of cur.items) {
          const start = (p.key as YamlNode | null)?.range?.[0];
          const end = (p.value as YamlNode | null)?.range?.[2] ?? (p.key as YamlNode | null)?.range?.[2];
          if (isScalar(p.key) && start !== undefined && end !== undefined && start <= offset && offset <= end) {
            next = { seg: String(p.key.value), node: p.value };
          }
        }
      } else if (isSeq(cur)) {
        cur.items.forEach((item, i) => {
          const r = (item as YamlNode | null)?.range;
          if (r && r[0] <= offset && offset <= r[2]) next = { seg: i, node: item };
        });
      }
      if (!next) return path;
      path.push(next.seg);
      cur = next.node;
    }
  }
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

export function valueAt(data: unknown, path: Path): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
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
