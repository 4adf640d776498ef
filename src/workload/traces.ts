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
  private lines: string[] = [];
  private at = 0;
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
    while (this.at >= this.lines.length) {
      if (this.eof) return null;
      this.fill();
    }
    const line = this.lines[this.at++]!;
    this.lineNo++;
    return line.endsWith('\r') ? line.slice(0, -1) : line;
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
      this.lines = text === '' ? [] : [text];
    } else {
      this.lines = text.split('\n');
      this.carry = this.lines.pop()!;
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
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
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
const AZURE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;

/** A timestamp as whole epoch seconds and nanoseconds, so differences keep every recorded digit. */
interface Instant {
  s: number;
  ns: number;
}

function parseAzureTime(text: string): Instant | undefined {
  const m = AZURE_TIME.exec(text.trim());
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 2023-02-30 over to March; a day that does not exist is a typo, not a time.
  if (new Date(ms).getUTCDate() !== d) return undefined;
  return { s: ms / 1000, ns: Number((m[7] ?? '').padEnd(9, '0')) };
}

function azureParser(): FormatParser {
  // Column positions by name, so a file with the columns in another order still reads.
  let pos: Record<(typeof AZURE_COLUMNS)[number], number> = { TIMESTAMP: 0, ContextTokens: 1, GeneratedTokens: 2 };
  let first: Instant | undefined;
  let prev: Instant | undefined;
  let prevText = '';
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
      const cells = ctx.text.split(',');
      if (cells.length !== AZURE_COLUMNS.length) {
        ctx.fail(`expected ${AZURE_COLUMNS.length} columns (${AZURE_HEADER}), got ${cells.length}: ${quote(ctx.text)}`);
      }
      const timeText = cells[pos.TIMESTAMP]!.trim();
      const t = parseAzureTime(timeText);
      if (t === undefined) ctx.fail(`TIMESTAMP must be a date and time like '${AZURE_EXAMPLE}', got ${quote(timeText)}`);
      const count = (name: 'ContextTokens' | 'GeneratedTokens'): number => {
        const cell = cells[pos[name]]!;
        const n = parseCount(cell);
        if (n === undefined) ctx.fail(`${name} must be a whole number >= 0, got ${quote(cell.trim())}`);
        return n;
      };
      const isl = count('ContextTokens');
      const osl = count('GeneratedTokens');
      if (prev !== undefined && (t.s < prev.s || (t.s === prev.s && t.ns < prev.ns))) {
        ctx.fail(`TIMESTAMP goes back in time: ${quote(timeText)} is before the previous row's ${quote(prevText)}`);
      }
      first ??= t;
      prev = t;
      prevText = timeText;
      // Whole nanoseconds are exact in a double for 104 days of trace, so the one rounding is the final division.
      return { line: ctx.line, row: ctx.row, offsetS: ((t.s - first.s) * 1e9 + (t.ns - first.ns)) / 1e9, isl, osl };
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
