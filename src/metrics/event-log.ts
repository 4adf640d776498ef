/**
 * Notable events of a run, counted exactly, and the last few of them kept as log lines in the style of vLLM and
 * Dynamo, so that a simulated run can be grepped like a real one. Everything is keyed by simulated time: no wall
 * clock, so the same seed gives the same lines.
 */
import { InvariantError, UserError } from '../errors.js';
import { EVENT_KINDS, type EventKind } from '../spec/events.js';

export type LogLevel = 'INFO' | 'WARN' | 'ERROR';

/** The level each kind is logged at (the levels the real lines carry where there are real lines). */
export const EVENT_LEVELS: Readonly<Record<EventKind, LogLevel>> = {
  kv_blocks_expired: 'WARN',
  stale_kv_read: 'ERROR',
  connection_reset: 'ERROR',
  broken_pipe: 'ERROR',
  health_503: 'ERROR',
  handshake_failed: 'ERROR',
  engine_dead: 'ERROR',
  preempted: 'WARN',
  fell_back: 'WARN',
  kv_transfer_failed: 'ERROR',
  request_failed: 'ERROR',
  link_down: 'WARN',
  link_up: 'INFO',
  eagain_retry: 'INFO',
};

export interface EventFields {
  /** Simulated time, seconds. */
  time: number;
  /** Who logs it, e.g. `prefill-0.rank3`, `decode-1`, `frontend`, `rail-2`. */
  component: string;
  /** The message, usually built by one of the *Line() helpers below. */
  line: string;
  requestId?: string;
}

/** One emitted event, as handed to onEmit. */
export interface LoggedEvent extends EventFields {
  kind: EventKind;
  level: LogLevel;
  /** The formatted log line, as lines() returns it. */
  text: string;
}

export interface EventLogOptions {
  /** How many of the newest lines to keep (an integer >= 0; default 10,000). Counters are exact regardless. */
  maxLines?: number;
  /** Called on every emit, after counting (for tests, or to stream every line to a file). */
  onEmit?: (event: LoggedEvent) => void;
}

/** Width of the time field inside the brackets: `  123.456789` (fits up to 99999.999999 s, ~27.8 h, then widens). */
const TIME_WIDTH = 12;

/** `[  123.456789s] WARN  prefill-0.rank3 <line>`: fixed-width time (6 decimals), level padded to 5, component, line. */
export function formatLine(time: number, level: LogLevel, component: string, line: string): string {
  return `[${time.toFixed(6).padStart(TIME_WIDTH)}s] ${level.padEnd(5)} ${component} ${line}`;
}

export class EventLog {
  readonly maxLines: number;
  onEmit: ((event: LoggedEvent) => void) | undefined;
  private readonly counters: Record<EventKind, number>;
  private readonly ring: string[] = [];
  /** Index in `ring` of the oldest kept line, once the ring is full. */
  private head = 0;
  private droppedLines = 0;
  private emitted = 0;

  constructor(options: EventLogOptions = {}) {
    const maxLines = options.maxLines ?? 10_000;
    if (!(Number.isInteger(maxLines) && maxLines >= 0)) {
      throw new UserError(`maxLines must be a whole number >= 0, got ${maxLines}`);
    }
    this.maxLines = maxLines;
    this.onEmit = options.onEmit;
    this.counters = Object.fromEntries(EVENT_KINDS.map((k) => [k, 0])) as Record<EventKind, number>;
  }

  /** Counts one event of this kind and keeps its line (dropping the oldest kept line if the ring is full). */
  emit(kind: EventKind, fields: EventFields): void {
    const level = EVENT_LEVELS[kind];
    if (level === undefined) throw new InvariantError(`unknown event kind ${JSON.stringify(kind)}`);
    if (!Number.isFinite(fields.time)) throw new InvariantError(`event ${kind} at a time of ${fields.time} s`);
    this.counters[kind]++;
    this.emitted++;
    const text = formatLine(fields.time, level, fields.component, fields.line);
    if (this.ring.length < this.maxLines) {
      this.ring.push(text);
    } else if (this.maxLines > 0) {
      this.ring[this.head] = text;
      this.head = this.head + 1 === this.maxLines ? 0 : this.head + 1;
      this.droppedLines++;
    } else {
      this.droppedLines++;
    }
    if (this.onEmit !== undefined) {
      const event: LoggedEvent = { kind, level, time: fields.time, component: fields.component, line: fields.line, text };
      if (fields.requestId !== undefined) event.requestId = fields.requestId;
      this.onEmit(event);
    }
  }

  /** How many events of each kind, every kind present, keys in EVENT_KINDS order. A fresh object each call. */
  counts(): Record<EventKind, number> {
    return { ...this.counters };
  }

  /** How many events of one kind. */
  count(kind: EventKind): number {
    return this.counters[kind];
  }

  /** Events emitted so far, of all kinds. */
  get total(): number {
    return this.emitted;
  }

  /** Lines no longer kept because the ring was full. total = dropped + lines().length. */
  get dropped(): number {
    return this.droppedLines;
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    return this.head === 0 ? this.ring.slice() : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Texts. The ones marked "upstream" are contracts: they are the texts real vLLM/Dynamo logs carry (as quoted in the
// seed reports and the vLLM source), so that a grep written against a real log finds the same lines here. The ones
// marked "nixlsim wording" have no upstream text (the real system is silent, or logs only a traceback); they are
// written in the same style and may change.
// ---------------------------------------------------------------------------------------------------------------

/** Upstream (vLLM nixl_connector, prefill side, VLLM_NIXL_ABORT_REQUEST_TIMEOUT; seed 000 "ANOMALY 3"). */
export function expiredLine(requestId: string, timeoutS: number): string {
  return `nixl_connector.get_finished: Releasing expired KV blocks for request ${requestId} which were retrieved by 0 decode worker(s) within ${timeoutS} seconds.`;
}

/** Upstream (newer vLLM nixl_connector, where the prefill side holds the blocks under a lease). */
export function leaseExpiredLine(requestId: string): string {
  return `nixl_connector.get_finished: Releasing expired KV blocks for request ${requestId} which were retrieved by 0 remote worker(s) before lease expired.`;
}

/**
 * Upstream (Dynamo TCP response stream, decode side; seed 000 "PRIMARY ERROR"). The inner quotes around
 * `Connection reset by peer` are plain, unescaped quotes, as in the seed's log excerpt.
 */
export function connectionResetLine(): string {
  return 'dynamo_runtime::pipeline::network::tcp::client: reader task failed to join: JoinError::Panic "fatal error - failed to decode message from stream; invalid line protocol: Io(Os { code: 104, kind: ConnectionReset, message: "Connection reset by peer" })"';
}

/** Upstream (Dynamo, decode side; seed 000 "ANOMALY 1"). */
export function brokenPipeLine(): string {
  return 'dynamo_runtime::pipeline::network::tcp::client: failed to join writer task: I/O error: Broken pipe (os error 32)';
}

/** Upstream (Dynamo HTTP server's tower_http trace layer on a failing /health probe; seed 000 "ANOMALY 2"). */
export function health503Line(): string {
  return 'tower_http::trace::on_failure: response failed classification=Status code: 503 Service Unavailable latency=0 ms method=GET uri=/health';
}

/**
 * nixlsim wording. A decode worker read KV blocks the prefill worker had already released (expired) and perhaps
 * reused: real vLLM does not notice this (the output is silently wrong), the simulator does.
 */
export function staleReadLine(requestId: string): string {
  return `nixl_connector.read_blocks: KV blocks for request ${requestId} were read after the prefill worker released them; the transferred KV cache is stale.`;
}

/**
 * nixlsim wording. Remote prefill could not be used and the request was served another way (seed 000: "System falls
 * back to prefill-only processing"); `reason` says why, e.g. `KV transfer timed out`.
 */
export function fellBackLine(requestId: string, reason: string): string {
  return `dynamo.vllm.handlers: Remote prefill for request ${requestId} failed (${reason}); falling back to local prefill.`;
}

/**
 * nixlsim wording up to the cause, then the upstream vLLM text: the engine core's fatal error (`cause`, e.g.
 * `KeyError: 'f6c8f19f-...'`, as in seed 003) is followed by the EngineDeadError every later request gets.
 */
export function engineDeadLine(engineId: string, cause: string): string {
  return `core.run_engine_core: EngineCore ${engineId} encountered a fatal error: ${cause} -> vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.`;
}

/** nixlsim wording. The NIXL handshake between two engines did not complete (seed 003: TP mismatch). */
export function handshakeFailedLine(remoteEngineId: string, reason: string): string {
  return `nixl_connector._nixl_handshake: NIXL handshake with remote engine ${remoteEngineId} failed: ${reason}`;
}

/** nixlsim wording. The scheduler took a running request's KV blocks back for lack of free blocks. */
export function preemptedLine(requestId: string): string {
  return `scheduler.schedule: Request ${requestId} was preempted: not enough free KV cache blocks.`;
}

/** nixlsim wording. A NIXL read of a request's KV blocks ended in failure. */
export function kvTransferFailedLine(requestId: string, reason: string): string {
  return `nixl_connector.get_finished: NIXL transfer for request ${requestId} failed: ${reason}`;
}

/** nixlsim wording. The frontend gave up on a request and returned an error. */
export function requestFailedLine(requestId: string, reason: string): string {
  return `dynamo.frontend: Request ${requestId} failed: ${reason}`;
}

/** nixlsim wording. A link (NIC rail, fabric port) went down, or came back. */
export function linkDownLine(linkId: string): string {
  return `network.link: ${linkId} is down.`;
}

export function linkUpLine(linkId: string, downForS: number): string {
  return `network.link: ${linkId} is up again after ${downForS} seconds.`;
}
