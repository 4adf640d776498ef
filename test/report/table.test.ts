import { describe, expect, test } from 'vitest';
import { fixedColumn } from '../../src/report/table.js';

describe('fixedColumn', () => {
  test('gives every number the decimals that show the largest to the asked significant digits', () => {
    // 65.19 has 2 digits before the point: 4 significant leave 2 decimals, and 46.7 gets its trailing zero.
    expect(fixedColumn([65.19, 46.7, 0], 4)).toEqual(['65.19', '46.70', '0.00']);
    expect(fixedColumn([8.149, 6.4], 3)).toEqual(['8.15', '6.40']);
    // Small columns get more decimals, large ones none (never a negative count).
    expect(fixedColumn([0.0123, 0.004], 3)).toEqual(['0.0123', '0.0040']);
    expect(fixedColumn([12_345, 99.5], 3)).toEqual(['12345', '100']);
  });
  test('an all-zero or empty column, and numbers that are not finite', () => {
    expect(fixedColumn([0, 0], 3)).toEqual(['0', '0']);
    expect(fixedColumn([], 3)).toEqual([]);
    expect(fixedColumn([NaN, 2.5], 2)).toEqual(['-', '2.5']);
  });
});
