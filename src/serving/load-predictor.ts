/**
 * The SLA planner's load predictors (Dynamo components/src/dynamo/planner/utils/load_predictor.py): each interval
 * the planner adds what it saw (requests, mean ISL, mean OSL: a predictor each) and asks for the next interval's.
 *   - constant: the next is the last seen.
 *   - kalman: a local-linear-trend Kalman filter (level and trend; the level moves by the trend each interval plus
 *     noise of variance qLevel, the trend by noise of variance qTrend; a measurement has noise of variance r), started
 *     at the first value with trend 0 and variance 1000 on both; optionally on log1p of the series. Until minPoints
 *     values have been seen the last value stands in.
 * Both skip the leading zeros of a series (the idle time before traffic), as Dynamo's BasePredictor does.
 * Not modelled: Dynamo's other two, ARIMA (pmdarima's auto_arima, its default) and Prophet.
 */
export interface KalmanConfig {
  qLevel: number;
  qTrend: number;
  r: number;
  minPoints: number;
}

export interface LoadPredictor {
  add(value: number): void;
  next(): number;
}

export class ConstantPredictor implements LoadPredictor {
  private last = 0;

  add(value: number): void {
    if (value !== 0 || this.last !== 0) this.last = value;
  }

  next(): number {
    return this.last;
  }
}

export class KalmanPredictor implements LoadPredictor {
  // State (level, trend) and its covariance [[a, b], [b, d]].
  private level = 0;
  private trend = 0;
  private a = 1000;
  private b = 0;
  private d = 1000;
  private seen = 0;
  private last = 0;
  /** The forecast made for the interval being observed, if asked: its prediction step is then already taken. */
  private forecastMade = false;

  constructor(
    readonly cfg: KalmanConfig,
    readonly log1p = false,
  ) {}

  add(value: number): void {
    if (value === 0 && this.seen === 0) return; // the idle start
    this.seen++;
    this.last = value;
    const z = this.log1p ? Math.log1p(Math.max(0, value)) : value;
    if (this.seen === 1) {
      this.level = z;
      this.trend = 0;
    } else {
      if (!this.forecastMade) this.predictStep();
      // Update with the measurement: gain K = P H' / (H P H' + r), H = [1, 0].
      const s = this.a + this.cfg.r;
      const k0 = this.a / s;
      const k1 = this.b / s;
      const innovation = z - this.level;
      this.level += k0 * innovation;
      this.trend += k1 * innovation;
      const { a, b, d } = this;
      this.a = (1 - k0) * a;
      this.b = (1 - k0) * b;
      this.d = d - k1 * b;
    }
    this.forecastMade = false;
  }

  next(): number {
    if (this.seen < Math.max(1, this.cfg.minPoints)) return this.last;
    if (!this.forecastMade) {
      this.predictStep();
      this.forecastMade = true;
    }
    return this.log1p ? Math.max(0, Math.expm1(this.level)) : this.level;
  }

  /** x = F x, P = F P F' + Q with F = [[1, 1], [0, 1]], Q = diag(qLevel, qTrend). */
  private predictStep(): void {
    this.level += this.trend;
    const { a, b, d } = this;
    this.a = a + 2 * b + d + this.cfg.qLevel;
    this.b = b + d;
    this.d = d + this.cfg.qTrend;
  }
}
