/**
 * JSON files nixlsim wrote and reads back (summary.json, baselines, shard summaries), read so that a mistake in one,
 * a truncated copy or a hand edit gone wrong, is reported at its line and column with the field it is in, like a
 * mistake in an experiment file. JSON.parse reads the file; only when something is wrong is the text parsed again
 * with positions kept (JSON is YAML), so large files cost nothing extra.
 */
import { readFileSync } from 'node:fs';
import { checkRegularFile } from '../input.js';
import { UserError } from '../errors.js';
import { fieldName, shownPath, YamlSource, type Path } from './positions.js';

export class JsonFile {
  /** The parsed content. */
  readonly data: unknown;
  private source?: YamlSource;
  private readonly text: string;

  /**
   * Reads and parses `file`; `what` names it in messages (`summary file`, `baseline`). Invalid JSON is a UserError at
   * the line and column where it goes wrong. The caller checks that the file exists.
   */
  constructor(
    readonly file: string,
    readonly what: string,
    text?: string,
  ) {
    try {
      // Not a device, a FIFO or a file past the input bound, which would be read for ever or fill memory (input.ts).
      if (text === undefined) checkRegularFile(file, `the ${what}`);
      this.text = text ?? readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof UserError) throw err;
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
      throw new UserError(`cannot read the ${what}: ${why}`, shownPath(file));
    }
    try {
      this.data = JSON.parse(this.text);
    } catch (err) {
      throw this.syntaxError(err instanceof Error ? err.message : String(err));
    }
  }

  private get y(): YamlSource {
    this.source ??= new YamlSource(this.file, this.text);
    return this.source;
  }

  /** `reports/x/summary.json:3:5 points[0].ttftMs`: where a field is (its key), or its nearest existing parent. */
  where(path: Path): string {
    return this.y.where(path);
  }

  /** A UserError about a field: `<file>:<line>:<col> <field>: <message>`. */
  error(path: Path, message: string): UserError {
    return new UserError(message, this.where(path));
  }

  private syntaxError(jsonMessage: string): UserError {
    const name = shownPath(this.file);
    const expected = `expected the JSON of a ${this.what}`;
    const trimmed = this.text.trimEnd();
    if (trimmed === '') return new UserError(`the file is empty; ${expected}`, `${name}:1:1`);
    // V8 says what it expected and where ("Expected ',' or '}' after property value in JSON at position 45"), or
    // quotes the text without a position; then the YAML parser (which reads JSON) says where.
    const m = /^([\s\S]*?)(?: in JSON)? at position (\d+)/.exec(jsonMessage);
    const what = (m ? m[1]! : jsonMessage.replace(/, "[\s\S]*" is not valid JSON$/, '')).trim();
    let pos = m ? Number(m[2]) : undefined;
    // A file cut short fails at its very end: say so, rather than what the parser missed there.
    if (/end of JSON input/i.test(jsonMessage) || (pos !== undefined && pos >= trimmed.length)) {
      const { line, col } = this.y.lc.linePos(trimmed.length);
      return new UserError(`not valid JSON: the file ends in the middle of a value (cut short?); ${expected}`, at(name, line, col, this.y.pathAt(trimmed.length - 1)));
    }
    pos ??= this.y.doc.errors[0]?.pos[0] ?? 0;
    const { line, col } = this.y.lc.linePos(pos);
    return new UserError(`not valid JSON: ${what}; ${expected}`, at(name, line, col, this.y.pathAt(pos)));
  }
}

function at(file: string, line: number, col: number, path: Path): string {
  // A key cut off in its first character reads as an empty key: name the map it was going into.
  const near = path.filter((seg) => seg !== '');
  return `${file}:${Math.max(line, 1)}:${Math.max(col, 1)}${near.length ? ` ${fieldName(near)}` : ''}`;
}
