import { closeSync, openSync, readSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { UserError } from '../errors.js';

/**
 * Readers for recorded request traces. They stream: a chunk of the file at a time, one record handed out per call,
 * so a million-row trace costs no more memory than a fifty-row one.
 */

export type TraceFormat = 'azure' | 'mooncake';

/** Tokens per Mooncake hash_ids block. */
export const MOONCAKE_BLOCK_TOKENS = 512;

export interface TraceRecord {
  /** 1-based line of the file the record came from. */
  line: number;
  /** 1-based data row (a CSV header is not a row; blank lines are skipped and not counted). */
  row: number;
  /**
   * Seconds since the first record's timestamp. Relative rather than absolute so that Azure's epoch timestamps keep
   * their 100 ns digits: an epoch second near 1.7e9 leaves a double only ~0.24 us of resolution.
   */
  offsetS: number;
  /** Prompt tokens as recorded (may be 0). */
  isl: number;
  /** Output tokens as recorded (may be 0). */
  osl: number;
  /** Mooncake prefix-block hashes, MOONCAKE_BLOCK_TOKENS tokens each. */
  hashIds?: number[];
}

export interface TraceReadStats {
  /** Bytes read from the file so far. */
  bytesRead: number;
  /** Lines split off so far (including the header and blank lines). */
  linesRead: number;
  /** Records parsed so far. */
  records: number;
}

export interface TraceReaderOptions {
  /** The name errors give the file; default: the path relative to the working directory when it lies below it. */
  displayPath?: string;
  /** Bytes read at a time. */
  chunkBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 256 * 1024;

/** The path as a user would recognise it: relative when under the working directory, else as given. */
export function displayPathOf(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * Lines of a file, in order, read a chunk at a time. The file is opened and closed around each chunk, so a reader
 * abandoned half-way (a run stopped at its horizon) holds no file descriptor.
 */
class LineReader {
  private readonly buf: Buffer;
  private readonly decoder = new StringDecoder('utf8');
  private position = 0;
  /**
   * Whole lines of the file read so far and not yet handed out, from `at` on: each ends with a newline, but for a last
   * line without one. Lines are cut from it one at a time: split() would hold a chunk's thousands of lines in an array
   * for as long as the chunk lasts, long enough for the garbage collector to copy them twice.
   */
  private text = '';
  private at = 0;
  /** The part of the last chunk after its last newline. */
  private carry = '';
  private eof = false;
  private bomChecked = false;
  bytesRead = 0;
  lineNo = 0;

  constructor(
    private readonly path: string,
    private readonly display: string,
    chunkBytes: number,
  ) {
    this.buf = Buffer.alloc(chunkBytes);
  }

  /** The next line without its line ending, or null at the end of the file. */
  next(): string | null {
    while (this.at >= this.text.length) {
      if (this.eof) return null;
      this.fill();
    }
    const newline = this.text.indexOf('\n', this.at);
    const end = newline < 0 ? this.text.length : newline;
    const line = this.text.slice(this.at, this.text.charCodeAt(end - 1) === 13 /* \r */ && end > this.at ? end - 1 : end);
    this.at = end + 1;
    this.lineNo++;
    return line;
  }

  private fill(): void {
    const n = this.readChunk();
    let text = this.carry + (n === 0 ? this.decoder.end() : this.decoder.write(this.buf.subarray(0, n)));
    // A byte-order mark (Excel writes one) would otherwise become part of the first header name.
    if (!this.bomChecked && text !== '') {
      this.bomChecked = true;
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    if (n === 0) {
      this.eof = true;
      // A last line without a newline is still a line; an empty remainder after a final newline is not.
      this.text = text;
    } else {
      const last = text.lastIndexOf('\n');
      this.text = text.slice(0, last + 1);
      this.carry = text.slice(last + 1);
    }
    this.at = 0;
    this.position += n;
  }

  private readChunk(): number {
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'r');
      const n = readSync(fd, this.buf, 0, this.buf.length, this.position);
      this.bytesRead += n;
      return n;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
      throw new UserError(`cannot read the trace file: ${why}`, this.display);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}

/** What a format parser sees of one data line. */
interface RowContext {
  text: string;
  line: number;
  row: number;
  fail(message: string): never;
}

interface FormatParser {
  /** Called with the first line of the file; returns false when the format has no header (the line is data). */
  header(ctx: RowContext): boolean;
  /** Parses a data row; offsets are relative to the first row. */
  row(ctx: RowContext): TraceRecord;
  /** What to say when the file has lines but no rows. */
  readonly noRows: string;
  /** What the first line should be, for an empty file. */
  readonly expected: string;
}

/**
 * Records of a trace file, in file order, parsed one at a time as they are asked for. A mistake in the file is a
 * UserError naming file, line, row and field (`traces/x.csv:17: row 16: ContextTokens must be ...`), raised when the
 * reader reaches it. An empty file, a bad header and a file without rows are reported by the first next().
 */
export class TraceReader implements IterableIterator<TraceRecord> {
  readonly display: string;
  private readonly lines: LineReader;
  private readonly parser: FormatParser;
  private started = false;
  private done = false;
  private rows = 0;

  constructor(
    readonly format: TraceFormat,
    readonly path: string,
    options: TraceReaderOptions = {},
  ) {
    this.display = options.displayPath ?? displayPathOf(path);
    this.lines = new LineReader(path, this.display, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    this.parser = format === 'azure' ? azureParser() : mooncakeParser();
  }

  get stats(): TraceReadStats {
    return { bytesRead: this.lines.bytesRead, linesRead: this.lines.lineNo, records: this.rows };
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<TraceRecord, undefined> {
    if (this.done) return { done: true, value: undefined };
    for (;;) {
      const text = this.lines.next();
      if (text === null) {
        this.done = true;
        // Both at the line where a row was expected: the first, or the one after the last line read.
        if (!this.started) throw new UserError(`the trace file is empty; expected ${this.parser.expected}`, `${this.display}:1`);
        if (this.rows === 0) throw new UserError(`no requests: ${this.parser.noRows}`, `${this.display}:${this.lines.lineNo + 1}`);
        return { done: true, value: undefined };
      }
      if (!this.started) {
        this.started = true;
        if (this.parser.header(this.context(text, undefined))) continue;
      }
      if (text.trim() === '') continue;
      this.rows++;
      return { done: false, value: this.parser.row(this.context(text, this.rows)) };
    }
  }

  /** `row` is undefined for a header line, whose mistakes are not a row's. */
  private context(text: string, row: number | undefined): RowContext {
    const line = this.lines.lineNo;
    return {
      text,
      line,
      row: row ?? 0,
      fail: (message: string): never => {
        this.done = true;
        throw new UserError((row === undefined ? 'header: ' : `row ${row}: `) + message, `${this.display}:${line}`);
      },
    };
  }
}

/** Whole number >= 0 written in decimal digits only (no sign, exponent or fraction), or undefined. */
function parseCount(s: string): number | undefined {
  const t = s.trim();
  // Past 2^53 the sum rounds, but never back below it: such a number is not a safe integer either way.
  const n = t === '' ? NaN : digits(t, 0, t.length);
  return Number.isSafeInteger(n) ? n : undefined;
}

function quote(s: string): string {
  return `'${s.length > 60 ? `${s.slice(0, 57)}...` : s}'`;
}

// ---------------------------------------------------------------------------------------------------------------
// Azure LLM inference traces (2023, 2024): TIMESTAMP,ContextTokens,GeneratedTokens

const AZURE_COLUMNS = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'] as const;
const AZURE_HEADER = AZURE_COLUMNS.join(',');
const AZURE_EXAMPLE = '2023-11-16 18:17:03.9799600';

/** A timestamp as whole epoch seconds and nanoseconds, so differences keep every recorded digit. */
export interface Instant {
  s: number;
  ns: number;
}

/**
 * `YYYY-MM-DD HH:MM:SS[.fffffffff][Z]` (or a T between date and time; 1 to 9 fraction digits; blanks around it), read
 * character by character: a trace is read a row at a time, and a regular expression's match array and strings cost
 * more than the parse. `out` is filled and returned; undefined when the text is not such a time.
 */
export function parseAzureTime(text: string, out: Instant = { s: 0, ns: 0 }): Instant | undefined {
  const t = text.trim();
  const n = t.length;
  // 19 characters up to the seconds; a fraction of 1-9 digits after a dot; a Z last.
  const end = t.charCodeAt(n - 1) === 90 /* Z */ ? n - 1 : n;
  if (end < 19 || t.charCodeAt(4) !== 45 /* - */ || t.charCodeAt(7) !== 45 || t.charCodeAt(13) !== 58 /* : */ || t.charCodeAt(16) !== 58) return undefined;
  const sep = t.charCodeAt(10);
  if (sep !== 32 /* space */ && sep !== 84 /* T */) return undefined;
  const y = digits(t, 0, 4);
  const mo = digits(t, 5, 7);
  const d = digits(t, 8, 10);
  const h = digits(t, 11, 13);
  const mi = digits(t, 14, 16);
  const s = digits(t, 17, 19);
  let ns = 0;
  if (end > 19) {
    const places = end - 20;
    if (t.charCodeAt(19) !== 46 /* . */ || places < 1 || places > 9) return undefined;
    ns = digits(t, 20, end) * 10 ** (9 - places);
  }
  // digits() is NaN for a non-digit, and every comparison with NaN is false.
  if (!(mo >= 1 && mo <= 12 && d >= 1 && h <= 23 && mi <= 59 && s <= 59 && y >= 0 && ns >= 0)) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 2023-02-30 over to March; a day that does not exist is a typo, not a time. Days up to 28 exist in
  // every month (and the Date is not built for them).
  if (d > 28 && new Date(ms).getUTCDate() !== d) return undefined;
  out.s = ms / 1000;
  out.ns = ns;
  return out;
}

/** The decimal number written in text[from, to), or NaN if a character there is not a digit. */
function digits(text: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    v = v * 10 + c;
  }
  return v;
}

function azureParser(): FormatParser {
  // Column positions by name, so a file with the columns in another order still reads.
  let pos: Record<(typeof AZURE_COLUMNS)[number], number> = { TIMESTAMP: 0, ContextTokens: 1, GeneratedTokens: 2 };
  // The first row's time, the previous row's and this row's: filled in place, row after row.
  let seen = false;
  const first: Instant = { s: 0, ns: 0 };
  let prev: Instant = { s: 0, ns: 0 };
  let t: Instant = { s: 0, ns: 0 };
  let prevText = '';
  const cells = ['', '', ''];
  const count = (ctx: RowContext, cells: string[], name: 'ContextTokens' | 'GeneratedTokens'): number => {
    const cell = cells[pos[name]]!;
    const n = parseCount(cell);
    if (n === undefined) ctx.fail(`${name} must be a whole number >= 0, got ${quote(cell.trim())}`);
    return n;
  };
  return {
    noRows: 'the file has a header but no rows',
    expected: `the header '${AZURE_HEADER}' and then one row per request`,
    header(ctx: RowContext): boolean {
      const cells = ctx.text.split(',').map((c) => c.trim());
      const expected = `expected the header '${AZURE_HEADER}'`;
      if (ctx.text.trim() === '') ctx.fail(`missing; ${expected} as the first line, got an empty line`);
      if (cells[0] !== undefined && parseAzureTime(cells[0]) !== undefined) {
        ctx.fail(`missing; ${expected} as the first line, got a data row ${quote(ctx.text)}`);
      }
      const found: Partial<Record<(typeof AZURE_COLUMNS)[number], number>> = {};
      cells.forEach((cell, i) => {
        const name = AZURE_COLUMNS.find((c) => c.toLowerCase() === cell.toLowerCase());
        if (name === undefined) ctx.fail(`unknown column ${quote(cell)}; ${expected}`);
        if (found[name] !== undefined) ctx.fail(`column ${quote(name)} appears twice; ${expected}`);
        found[name] = i;
      });
      for (const c of AZURE_COLUMNS) if (found[c] === undefined) ctx.fail(`no ${c} column; ${expected}`);
      pos = found as typeof pos;
      return true;
    },
    row(ctx: RowContext): TraceRecord {
      // The cells between the two commas, into a reused array: String.split costs more than the rest of the row.
      const text = ctx.text;
      const comma1 = text.indexOf(',');
      const comma2 = comma1 < 0 ? -1 : text.indexOf(',', comma1 + 1);
      if (comma2 < 0 || text.includes(',', comma2 + 1)) {
        ctx.fail(`expected ${AZURE_COLUMNS.length} columns (${AZURE_HEADER}), got ${text.split(',').length}: ${quote(text)}`);
      }
      cells[0] = text.slice(0, comma1);
      cells[1] = text.slice(comma1 + 1, comma2);
      cells[2] = text.slice(comma2 + 1);
      const timeText = cells[pos.TIMESTAMP]!.trim();
      if (parseAzureTime(timeText, t) === undefined) ctx.fail(`TIMESTAMP must be a date and time like '${AZURE_EXAMPLE}', got ${quote(timeText)}`);
      const isl = count(ctx, cells, 'ContextTokens');
      const osl = count(ctx, cells, 'GeneratedTokens');
      if (seen && (t.s < prev.s || (t.s === prev.s && t.ns < prev.ns))) {
        ctx.fail(`TIMESTAMP goes back in time: ${quote(timeText)} is before the previous row's ${quote(prevText)}`);
      }
      if (!seen) {
        seen = true;
        first.s = t.s;
        first.ns = t.ns;
      }
      // Whole nanoseconds are exact in a double for 104 days of trace, so the one rounding is the final division.
      const offsetS = ((t.s - first.s) * 1e9 + (t.ns - first.ns)) / 1e9;
      // This row's time becomes the previous row's; the next row is read into the other object.
      const free = prev;
      prev = t;
      t = free;
      prevText = timeText;
      return { line: ctx.line, row: ctx.row, offsetS, isl, osl };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Mooncake traces (FAST'25 release): one JSON object a line, {"timestamp": ms, "input_length", "output_length", "hash_ids"}

function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function mooncakeParser(): FormatParser {
  let first: number | undefined;
  let prev: number | undefined;
  return {
    noRows: 'the file has no records',
    expected: 'one JSON object per line, e.g. {"timestamp": 0, "input_length": 6758, "output_length": 500}',
    header: () => false,
    row(ctx: RowContext): TraceRecord {
      let rec: unknown;
      try {
        rec = JSON.parse(ctx.text);
      } catch (e) {
        ctx.fail(`not valid JSON (${(e as Error).message})`);
      }
      if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
        ctx.fail(`expected a JSON object like {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1]}, got ${describeJson(rec)}`);
      }
      const o = rec as Record<string, unknown>;
      const count = (name: string): number => {
        const v = o[name];
        if (v === undefined) ctx.fail(`${name} is missing`);
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) ctx.fail(`${name} must be a whole number >= 0, got ${describeJson(v)}`);
        return v;
      };
      const ts = o['timestamp'];
      if (ts === undefined) ctx.fail('timestamp is missing');
      if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) ctx.fail(`timestamp must be a number of milliseconds >= 0, got ${describeJson(ts)}`);
      const isl = count('input_length');
      const osl = count('output_length');
      const h = o['hash_ids'];
      let hashIds: number[] | undefined;
      if (h !== undefined) {
        if (!Array.isArray(h)) ctx.fail(`hash_ids must be a list of whole numbers >= 0, got ${describeJson(h)}`);
        h.forEach((id: unknown, i) => {
          if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) ctx.fail(`hash_ids[${i}] must be a whole number >= 0, got ${describeJson(id)}`);
        });
        hashIds = h as number[];
      }
      if (prev !== undefined && ts < prev) ctx.fail(`timestamp goes back in time: ${ts} ms is before the previous record's ${prev} ms`);
      first ??= ts;
      prev = ts;
      const r: TraceRecord = { line: ctx.line, row: ctx.row, offsetS: (ts - first) / 1000, isl, osl };
      if (hashIds !== undefined) r.hashIds = hashIds;
      return r;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

export interface TraceSummary {
  records: number;
  /** Mean prompt and output tokens as recorded. */
  meanIsl: number;
  meanOsl: number;
  /** Seconds from the first record to the last, as recorded (no speed-up). */
  durationS: number;
  /** Records with 0 output tokens (replayed as 1). */
  zeroOutput: number;
}

/** Reads a whole trace once, in constant memory, checking every row: what `validate` and tests want to know. */
export function summariseTrace(format: TraceFormat, path: string, options: TraceReaderOptions = {}): TraceSummary {
  let records = 0;
  let isl = 0;
  let osl = 0;
  let last = 0;
  let zeroOutput = 0;
  for (const r of new TraceReader(format, path, options)) {
    records++;
    isl += r.isl;
    osl += r.osl;
    last = r.offsetS;
    if (r.osl === 0) zeroOutput++;
  }
  return { records, meanIsl: isl / records, meanOsl: osl / records, durationS: last, zeroOutput };
}
