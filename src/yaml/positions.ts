/**
 * Pointing at a field of a YAML (or JSON) file: parse with positions kept, turn a field path into file:line:col and back,
 * and throw a UserError that names the spot. Shared by the catalog loader (src/catalog/load.ts) and the experiment
 * loader (src/experiment/yaml-errors.ts); each keeps its own wording of validation messages.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode } from 'yaml';
import { fieldName, shownPath, UserError } from '../errors.js';

/** A field path: map keys and list indexes, outermost first. */
export type Path = (string | number)[];

// fieldName (`deployment.prefill.tp`, `faults[2].rate`) lives in errors.ts, beside FieldError, which needs it, and
// shownPath beside them, since input.ts (below this folder) names files with it.
export { fieldName, shownPath };

/** The value at `path` in plain parsed data; undefined where the path leads nowhere. */
export function valueAt(data: unknown, path: Path): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** A parsed YAML file that can point at its own fields. */
/** How far YAML aliases may expand (the yaml package's maxAliasCount) before a file is refused. */
export const MAX_ALIAS_COUNT = 1000;

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
    // JSON files are read as YAML, but their author thinks in JSON.
    const kind = this.file.toLowerCase().endsWith('.json') ? 'JSON' : 'YAML';
    this.fail([], `${kind} syntax error${near.length ? ` near ${fieldName(near)}` : ''}: ${msg}`, err.pos[0]);
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

  /**
   * The document as plain data. Aliases are expanded up to a bound: an alias bomb ("billion laughs") would otherwise
   * take the process's memory; past the bound the file is refused, naming it and its first alias.
   */
  toJS(): unknown {
    try {
      return this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      if (!(err instanceof ReferenceError) || !/alias/i.test(err.message)) throw err;
      let first: number | undefined;
      visit(this.doc, {
        Alias: (_k, node) => {
          first ??= node.range?.[0];
          return first === undefined ? undefined : visit.BREAK;
        },
      });
      return this.fail(first === undefined ? [] : this.pathAt(first), `its YAML aliases expand past ${MAX_ALIAS_COUNT} nodes (an alias bomb?); write the values out, or use fewer aliases`, first);
    }
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
