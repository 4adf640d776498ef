/**
 * The notable events a run counts: their names are the keys of `events` in summary.json (and of the event counts in
 * points.csv, the expectations' `events.<kind>` metrics and the JSON schema); src/metrics/event-log.ts counts and logs
 * them.
 */

/** Every kind of event, in a fixed order (counts() and its JSON follow it). */
export const EVENT_KINDS = [
  'kv_blocks_expired',
  'stale_kv_read',
  'connection_reset',
  'broken_pipe',
  'health_503',
  'handshake_failed',
  'engine_dead',
  'preempted',
  'fell_back',
  'kv_transfer_failed',
  'request_failed',
  'link_down',
  'link_up',
  'eagain_retry',
] as const;

export type EventKind = (typeof EVENT_KINDS)[number];
