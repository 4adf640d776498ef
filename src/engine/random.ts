import seedrandom from 'seedrandom';

/**
 * One named, seeded stream of random numbers (Alea, from seedrandom: fast, and seeded from a string by hashing, so
 * nearby seeds give unrelated streams). Never the platform's unseeded generator: results depend on the seed alone.
 */
export class RandomStream {
  private readonly prng: () => number;
  private spare = NaN;

  constructor(readonly seed: string) {
    this.prng = seedrandom.alea(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng();
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.prng();
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.prng() < p;
  }

  /** Exponentially distributed with the given rate (mean 1/rate). */
  exponential(rate: number): number {
    // 1 - u is in (0, 1], so the log is finite.
    return -Math.log(1 - this.prng()) / rate;
  }

  /** Normally distributed (Box-Muller, spare value kept), then clamped to [min, max] if given. */
  normal(mean: number, stddev: number, min = -Infinity, max = Infinity): number {
    let z: number;
    if (!Number.isNaN(this.spare)) {
      z = this.spare;
      this.spare = NaN;
    } else {
      const u1 = 1 - this.prng();
      const u2 = this.prng();
      const r = Math.sqrt(-2 * Math.log(u1));
      z = r * Math.cos(2 * Math.PI * u2);
      this.spare = r * Math.sin(2 * Math.PI * u2);
    }
    const x = mean + stddev * z;
    return x < min ? min : x > max ? max : x;
  }

  /** One element of a non-empty array, uniformly. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('choice() from an empty list');
    return items[this.int(items.length)]!;
  }
}

/**
 * Streams by name, each derived from the master seed and its name only. Adding a stream, or drawing from one,
 * never changes what another stream draws.
 */
export class RandomStreams {
  private readonly streams = new Map<string, RandomStream>();

  constructor(readonly masterSeed: string | number) {}

  get(name: string): RandomStream {
    let s = this.streams.get(name);
    if (s === undefined) {
      s = new RandomStream(`nixlsim:${this.masterSeed}:${name}`);
      this.streams.set(name, s);
    }
    return s;
  }
}
