import { InvariantError } from '../errors.js';

/**
 * Bounded nonlinear least squares by Levenberg-Marquardt, small and hand-written: the problems here have 1 to 4
 * parameters and residuals that cost a simulation each, so what matters is few evaluations and staying inside the
 * parameters' ranges, not a general-purpose solver (and no well-kept JS library for this is among our dependencies).
 * Parameters are scaled to [0, 1] over their ranges, the Jacobian is taken by forward differences (backward at the
 * upper end), and each trial step is clipped to the box. Deterministic.
 */
export interface Param {
  name: string;
  lo: number;
  hi: number;
  start: number;
}

export interface LeastSquaresProblem {
  params: readonly Param[];
  /** Residuals at x (parameter units); the same length at every x. */
  residuals: (x: readonly number[]) => number[];
}

export interface LeastSquaresResult {
  x: number[];
  residuals: number[];
  /** Sum of squared residuals. */
  cost: number;
  iterations: number;
  /** Residual evaluations, the Jacobians' included. */
  evaluations: number;
}

export interface LeastSquaresOptions {
  maxIterations?: number;
  /** Forward-difference step, as a fraction of each parameter's range. */
  step?: number;
}

const sumSq = (r: readonly number[]): number => r.reduce((s, v) => s + v * v, 0);

/** Solves A x = b for a small dense symmetric positive (semi)definite A, by Gaussian elimination with pivoting. */
export function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    if (piv === 0) return new Array<number>(n).fill(0);
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / piv;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

/** The Jacobian of the residuals in scaled units (d residual / d u, u = (x - lo) / (hi - lo)), by finite differences. */
export function jacobian(p: LeastSquaresProblem, u: readonly number[], r0: readonly number[], step = 0.01): number[][] {
  const cols = p.params.map((_, j) => {
    const h = u[j]! + step <= 1 ? step : -step;
    const v = [...u];
    v[j] = u[j]! + h;
    const r = p.residuals(unscale(p.params, v));
    if (r.length !== r0.length) throw new InvariantError(`residuals changed length from ${r0.length} to ${r.length}`);
    return r.map((ri, i) => (ri - r0[i]!) / h);
  });
  return r0.map((_, i) => cols.map((c) => c[i]!));
}

export function scale(params: readonly Param[], x: readonly number[]): number[] {
  return params.map((q, j) => (q.hi > q.lo ? (x[j]! - q.lo) / (q.hi - q.lo) : 0));
}

export function unscale(params: readonly Param[], u: readonly number[]): number[] {
  return params.map((q, j) => q.lo + Math.min(1, Math.max(0, u[j]!)) * (q.hi - q.lo));
}

export function levenbergMarquardt(p: LeastSquaresProblem, o: LeastSquaresOptions = {}): LeastSquaresResult {
  const k = p.params.length;
  const step = o.step ?? 0.01;
  let evaluations = 0;
  const f = (u: readonly number[]): number[] => {
    evaluations++;
    return p.residuals(unscale(p.params, u));
  };
  let u = scale(p.params, p.params.map((q) => q.start)).map((v) => Math.min(1, Math.max(0, v)));
  let r = f(u);
  let cost = sumSq(r);
  let lambda = 1e-2;
  let it = 0;
  for (; it < (o.maxIterations ?? 30) && cost > 0; it++) {
    const j = jacobian(p, u, r, step);
    evaluations += k;
    const a = Array.from({ length: k }, (_, x) => Array.from({ length: k }, (_, y) => j.reduce((s, row) => s + row[x]! * row[y]!, 0)));
    const g = Array.from({ length: k }, (_, x) => j.reduce((s, row, i) => s + row[x]! * r[i]!, 0));
    let accepted = false;
    for (let tries = 0; tries < 12 && !accepted; tries++) {
      const damped = a.map((row, x) => row.map((v, y) => (x === y ? v + lambda * (v + 1e-9) : v)));
      const delta = solve(damped, g.map((v) => -v));
      const next = u.map((v, x) => Math.min(1, Math.max(0, v + delta[x]!)));
      if (next.every((v, x) => v === u[x])) break; // pinned at the box: nowhere left to go
      const rn = f(next);
      const cn = sumSq(rn);
      if (cn < cost) {
        const moved = Math.max(...next.map((v, x) => Math.abs(v - u[x]!)));
        const gain = cost - cn;
        u = next;
        r = rn;
        cost = cn;
        lambda = Math.max(lambda / 3, 1e-7);
        accepted = true;
        if (gain <= 1e-12 + 1e-6 * cost || moved < 1e-6) return { x: unscale(p.params, u), residuals: r, cost, iterations: it + 1, evaluations };
      } else {
        lambda *= 4;
      }
    }
    if (!accepted) break;
  }
  return { x: unscale(p.params, u), residuals: r, cost, iterations: it, evaluations };
}

/**
 * Why the residuals cannot pin the parameters down, or undefined when they can: too few residuals, a parameter no
 * residual moves (its Jacobian column is ~0 across the parameter's whole range), or two parameters that move the
 * residuals alike (columns nearly parallel), so that only a combination of them is determined.
 */
export function identifiability(j: readonly number[][], names: readonly string[], minEffect = 0.01, maxCosine = 0.9999): string | undefined {
  const k = names.length;
  if (j.length < k) return `${j.length} measured value${j.length === 1 ? '' : 's'} cannot determine ${k} factors (${names.join(', ')})`;
  const col = (c: number) => j.map((row) => row[c]!);
  const norm = (v: number[]) => Math.sqrt(sumSq(v));
  for (let c = 0; c < k; c++) {
    const peak = Math.max(...col(c).map(Math.abs));
    if (!(peak >= minEffect)) return `${names[c]}: no measured value depends on it (across its whole range it moves none by ${minEffect * 100}%)`;
  }
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const x = col(a);
      const y = col(b);
      const cos = Math.abs(x.reduce((s, v, i) => s + v * y[i]!, 0)) / (norm(x) * norm(y));
      if (cos > maxCosine) return `${names[a]} and ${names[b]}: every measured value moves with them alike, so only a combination of the two is determined`;
    }
  }
  return undefined;
}
