/**
 * Near-miss suggestions for names a user typed: catalog ids, experiment keys, flag values. A typo should cost one
 * glance at the error, not a trip to the docs.
 */
import { quoted } from '../errors.js';

/** Edit distance (insertions, deletions, substitutions), two rows at a time: names are short. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The candidate `name` most plausibly means, compared case-insensitively: the same name in another case; else the only
 * candidate that begins with it, for a name of 3 or more characters cut short (`llama-3.1-70b-instruct` for
 * `llama-3.1-70b-instruct-fp8`, 4 edits away, while `llama-3.1-8b-instruct` is 2); else the closest by edit distance,
 * if within a third of the name's length (at least 1, at most 3 edits). Ties go to the earlier candidate, so callers
 * that pass a sorted list get a stable answer.
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  let extending: string | undefined;
  let extendingCount = 0;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    if (lower.length >= 3 && cl.length > lower.length && cl.startsWith(lower)) {
      extending = c;
      extendingCount++;
    }
    const d = levenshtein(lower, cl);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (bestD === 0) return best; // the same name in another case
  if (extendingCount === 1) return extending;
  return bestD <= limit ? best : undefined;
}

/** `unknown transport 'efa-libfabrc'; did you mean 'efa-libfabric'? Known: efa-libfabric, nvlink, ...` */
export function unknownNameMessage(kind: string, name: string, known: Iterable<string>): string {
  const list = [...known];
  const guess = closest(name, list);
  const hint = guess === undefined ? '' : `; did you mean '${guess}'?`;
  return `unknown ${kind} ${quoted(name)}${hint}${hint ? ' ' : '. '}Known: ${list.length ? list.join(', ') : '(none)'}`;
}
