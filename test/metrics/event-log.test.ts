import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { EVENT_KINDS, type EventKind } from '../../src/spec/events.js';
import {
  EVENT_LEVELS,
  EventLog,
  brokenPipeLine,
  connectionResetLine,
  engineDeadLine,
  expiredLine,
  fellBackLine,
  formatLine,
  health503Line,
  leaseExpiredLine,
  staleReadLine,
  type LoggedEvent,
} from '../../src/metrics/event-log.js';

const emitN = (log: EventLog, n: number, kindOf: (i: number) => EventKind = () => 'link_up'): void => {
  for (let i = 0; i < n; i++) log.emit(kindOf(i), { time: i, component: 'c', line: `line ${i}` });
};

describe('EventLog counters', () => {
  it('counts exactly however few lines it keeps', () => {
    const log = new EventLog({ maxLines: 5 });
    // 1000 events cycling through the 14 kinds: 1000 = 14 x 71 + 6, so the first 6 kinds (indices 0..5) get 72 each
    // and the other 8 get 71. 6 x 72 + 8 x 71 = 1000.
    expect(EVENT_KINDS.length).toBe(14);
    emitN(log, 1000, (i) => EVENT_KINDS[i % 14]!);
    const counts = log.counts();
    EVENT_KINDS.forEach((kind, i) => expect(counts[kind]).toBe(i < 6 ? 72 : 71));
    expect(log.count('kv_blocks_expired')).toBe(72);
    expect(log.total).toBe(1000);
    // 5 kept, so 1000 - 5 = 995 dropped.
    expect(log.lines()).toHaveLength(5);
    expect(log.dropped).toBe(995);
  });

  it('has every kind in counts(), 0 when none, keys in EVENT_KINDS order', () => {
    const log = new EventLog();
    log.emit('preempted', { time: 1, component: 'decode-0', line: 'x' });
    const counts = log.counts();
    expect(Object.keys(counts)).toEqual([...EVENT_KINDS]);
    expect(counts).toEqual({
      kv_blocks_expired: 0,
      stale_kv_read: 0,
      connection_reset: 0,
      broken_pipe: 0,
      health_503: 0,
      handshake_failed: 0,
      engine_dead: 0,
      preempted: 1,
      fell_back: 0,
      kv_transfer_failed: 0,
      request_failed: 0,
      link_down: 0,
      link_up: 0,
      eagain_retry: 0,
    });
    // Stable JSON: the key order is EVENT_KINDS' order whatever order the events came in.
    expect(JSON.stringify(counts)).toBe(`{${EVENT_KINDS.map((k) => `"${k}":${k === 'preempted' ? 1 : 0}`).join(',')}}`);
  });

  it('returns a copy from counts()', () => {
    const log = new EventLog();
    const c = log.counts();
    c.link_up = 99;
    expect(log.counts().link_up).toBe(0);
  });
});

describe('EventLog ring of lines', () => {
  it('keeps the newest lines, oldest first, and counts the dropped ones', () => {
    const log = new EventLog({ maxLines: 3 });
    emitN(log, 10); // times 0..9; 3 kept (7, 8, 9), 10 - 3 = 7 dropped
    expect(log.lines()).toEqual([
      '[    7.000000s] INFO  c line 7',
      '[    8.000000s] INFO  c line 8',
      '[    9.000000s] INFO  c line 9',
    ]);
    expect(log.dropped).toBe(7);
    expect(log.total).toBe(10);
  });

  it('drops nothing until full', () => {
    const log = new EventLog({ maxLines: 3 });
    emitN(log, 2);
    expect(log.lines().map((l) => l.slice(-6))).toEqual(['line 0', 'line 1']);
    expect(log.dropped).toBe(0);
  });

  it('keeps no lines with maxLines 0 but still counts', () => {
    const log = new EventLog({ maxLines: 0 });
    emitN(log, 4);
    expect(log.lines()).toEqual([]);
    expect(log.dropped).toBe(4);
    expect(log.count('link_up')).toBe(4);
  });

  it('default keeps 10,000 lines', () => {
    const log = new EventLog();
    emitN(log, 10_001); // 10,001 - 10,000 = 1 dropped: line 0; the oldest kept is line 1
    expect(log.maxLines).toBe(10_000);
    expect(log.dropped).toBe(1);
    expect(log.lines()[0]).toBe('[    1.000000s] INFO  c line 1');
  });

  it('matches a plain list of everything, cut to the last maxLines (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.constantFrom(...EVENT_KINDS), { maxLength: 40 }),
        (maxLines, kinds) => {
          const log = new EventLog({ maxLines });
          const all: string[] = [];
          const tally = Object.fromEntries(EVENT_KINDS.map((k) => [k, 0])) as Record<EventKind, number>;
          kinds.forEach((kind, i) => {
            log.emit(kind, { time: i * 0.25, component: `w${i}`, line: kind });
            all.push(formatLine(i * 0.25, EVENT_LEVELS[kind], `w${i}`, kind));
            tally[kind]++;
          });
          expect(log.lines()).toEqual(all.slice(Math.max(0, all.length - maxLines)));
          expect(log.dropped).toBe(Math.max(0, kinds.length - maxLines));
          expect(log.counts()).toEqual(tally);
        },
      ),
    );
  });

  it('rejects a bad maxLines', () => {
    expect(() => new EventLog({ maxLines: -1 })).toThrow(UserError);
    expect(() => new EventLog({ maxLines: 2.5 })).toThrow(/maxLines/);
  });
});

describe('EventLog line format', () => {
  it('formats the seed 000 warning as worked by hand', () => {
    const log = new EventLog();
    log.emit('kv_blocks_expired', {
      time: 123.456789,
      component: 'prefill-0.rank3',
      line: expiredLine('req-7', 120),
      requestId: 'req-7',
    });
    // "123.456789" is 10 characters, padded to 12: two spaces. WARN padded to 5, then one space: two spaces.
    expect(log.lines()).toEqual([
      '[  123.456789s] WARN  prefill-0.rank3 nixl_connector.get_finished: Releasing expired KV blocks for request req-7 which were retrieved by 0 decode worker(s) within 120 seconds.',
    ]);
  });

  it('pads time and level by hand-worked widths', () => {
    // 0 -> "0.000000" (8 chars) -> 4 spaces; ERROR is 5 wide -> one space; INFO -> two spaces.
    expect(formatLine(0, 'ERROR', 'decode-1', 'x')).toBe('[    0.000000s] ERROR decode-1 x');
    expect(formatLine(1.5, 'INFO', 'rail-0', 'y')).toBe('[    1.500000s] INFO  rail-0 y');
    // 86400 s (a day) -> "86400.000000", exactly 12: no padding.
    expect(formatLine(86_400, 'WARN', 'p', 'z')).toBe('[86400.000000s] WARN  p z');
    // Beyond 99999.999999 s the field widens rather than truncating.
    expect(formatLine(123_456.5, 'WARN', 'p', 'z')).toBe('[123456.500000s] WARN  p z');
    // Rounded to the microsecond: 2.0000004 -> 2.000000, 2.0000006 -> 2.000001.
    expect(formatLine(2.0000004, 'INFO', 'p', 'z')).toBe('[    2.000000s] INFO  p z');
    expect(formatLine(2.0000006, 'INFO', 'p', 'z')).toBe('[    2.000001s] INFO  p z');
  });

  it('logs each kind at its level', () => {
    expect(EVENT_LEVELS).toEqual({
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
    });
    const log = new EventLog();
    log.emit('broken_pipe', { time: 2, component: 'decode-0', line: brokenPipeLine() });
    expect(log.lines()[0]).toBe(
      '[    2.000000s] ERROR decode-0 dynamo_runtime::pipeline::network::tcp::client: failed to join writer task: I/O error: Broken pipe (os error 32)',
    );
  });

  it('hands every event to onEmit with its formatted text', () => {
    const seen: LoggedEvent[] = [];
    const log = new EventLog({ maxLines: 1, onEmit: (e) => seen.push(e) });
    log.emit('health_503', { time: 10, component: 'decode-0', line: health503Line() });
    log.emit('fell_back', { time: 11, component: 'frontend', line: fellBackLine('req-1', 'KV transfer timed out'), requestId: 'req-1' });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({
      kind: 'health_503',
      level: 'ERROR',
      time: 10,
      component: 'decode-0',
      line: health503Line(),
      text: `[   10.000000s] ERROR decode-0 ${health503Line()}`,
    });
    expect(seen[1]!.requestId).toBe('req-1');
    expect(seen[1]!.text).toBe(log.lines()[0]);
  });
});

describe('line texts', () => {
  it('are the upstream texts where there are upstream texts', () => {
    expect(expiredLine('3f2a', 120)).toBe(
      'nixl_connector.get_finished: Releasing expired KV blocks for request 3f2a which were retrieved by 0 decode worker(s) within 120 seconds.',
    );
    expect(leaseExpiredLine('3f2a')).toBe(
      'nixl_connector.get_finished: Releasing expired KV blocks for request 3f2a which were retrieved by 0 remote worker(s) before lease expired.',
    );
    // As in seed 000: the quotes around "Connection reset by peer" are plain, not backslash-escaped.
    expect(connectionResetLine()).toBe(
      'dynamo_runtime::pipeline::network::tcp::client: reader task failed to join: JoinError::Panic "fatal error - failed to decode message from stream; invalid line protocol: Io(Os { code: 104, kind: ConnectionReset, message: "Connection reset by peer" })"',
    );
    expect(connectionResetLine()).not.toContain('\\');
    expect(brokenPipeLine()).toBe(
      'dynamo_runtime::pipeline::network::tcp::client: failed to join writer task: I/O error: Broken pipe (os error 32)',
    );
    expect(health503Line()).toBe(
      'tower_http::trace::on_failure: response failed classification=Status code: 503 Service Unavailable latency=0 ms method=GET uri=/health',
    );
  });

  it('end the engine-dead line with vLLM EngineDeadError text after the cause', () => {
    const line = engineDeadLine('decode-0', "KeyError: 'f6c8f19f'");
    expect(line).toContain("KeyError: 'f6c8f19f'");
    expect(line.endsWith('EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the root cause.')).toBe(true);
    expect(line.indexOf('KeyError')).toBeLessThan(line.indexOf('EngineDeadError'));
  });

  it('name the request in nixlsim-worded lines', () => {
    expect(staleReadLine('req-9')).toContain('request req-9');
    expect(fellBackLine('req-9', 'KV transfer timed out')).toContain('req-9');
    expect(fellBackLine('req-9', 'KV transfer timed out')).toContain('KV transfer timed out');
  });
});
