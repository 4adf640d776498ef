import { describe, expect, it } from 'vitest';
import { ConstantPredictor, KalmanPredictor } from '../../src/serving/load-predictor.js';

const DYNAMO = { qLevel: 1, qTrend: 0.1, r: 10 };

describe('the SLA planner load predictors', () => {
  it('constant: the last value, after the leading zeros', () => {
    const p = new ConstantPredictor();
    p.add(0);
    expect(p.next()).toBe(0);
    p.add(5);
    p.add(7);
    expect(p.next()).toBe(7);
    p.add(0); // a quiet interval after traffic counts
    expect(p.next()).toBe(0);
  });

  it('kalman: level and trend worked by hand over two intervals', () => {
    // add 10: level 10, trend 0, P = 1000 I. Forecast: level 10 + 0; P = F P F' + Q = [[2001, 1000], [1000, 1000.1]].
    const p = new KalmanPredictor({ ...DYNAMO, minPoints: 1 });
    p.add(0); // idle start: skipped
    p.add(10);
    expect(p.next()).toBe(10);
    // add 20: innovation 10, gain (2001, 1000) / (2001 + 10): level 10 + 10 x 2001 / 2011, trend 10 x 1000 / 2011;
    // the next forecast is level + trend = 10 + 30,010 / 2011.
    p.add(20);
    expect(p.next()).toBeCloseTo(10 + 30_010 / 2011, 9);
    expect(p.next()).toBeCloseTo(10 + 30_010 / 2011, 9); // asked twice in an interval: the same forecast
  });

  it('kalman: the last value until minPoints values, and log1p forecasts back through expm1', () => {
    const p = new KalmanPredictor({ ...DYNAMO, minPoints: 5 });
    p.add(10);
    p.add(20);
    expect(p.next()).toBe(20);
    const log = new KalmanPredictor({ ...DYNAMO, minPoints: 1 }, true);
    log.add(9); // log1p(9) = ln 10; trend 0: the forecast is expm1(ln 10) = 9
    expect(log.next()).toBeCloseTo(9, 12);
  });
});
