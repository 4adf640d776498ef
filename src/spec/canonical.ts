/**
 * Canonical JSON: values whose text depends only on their content, never on the order a producer inserted keys in.
 * summary.json (summary.ts) rebuilds its known objects in contract order and passes params and extras through
 * canonical(); the regression check, baselines and plan probes compare and hash values by canonicalJson.
 */

/** Plain code-point order: locale-independent, so two machines sort alike. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Any JSON value with its maps' keys sorted: for params values and extras, whose shape experiment.ts does not fix. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort(byCodePoint)) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** JSON with map keys sorted: equal values give equal text, whatever order their keys were written in. */
export function canonicalJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x !== null && typeof x === 'object') {
      return Object.fromEntries(
        Object.keys(x)
          .sort()
          .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
      );
    }
    return x;
  };
  return JSON.stringify(sort(v)) ?? 'undefined';
}
