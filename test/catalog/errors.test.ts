import { describe, expect, test } from 'vitest';
import { loadCatalog } from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';

const FIX = 'test/fixtures/catalog';

function errorOf(dir: string): UserError {
  try {
    loadCatalog(`${FIX}/${dir}`);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error(`${dir} loaded without error`);
}

/**
 * Each fixture is the valid one with one mistake. Lines and columns are counted by hand in the fixture file; messages
 * are `<file>:<line>:<col> <field>: <what was expected>`.
 */
describe('a bad catalog file names file, line, column and field', () => {
  test.each([
    // fixture, expected start of the message, expected text after it
    ['wrong-type', `${FIX}/wrong-type/gpu/tiny-gpu.yaml:6:1 hbmTBps: `, "expected number, got string 'fast'"],
    ['unknown-key', `${FIX}/unknown-key/gpu/tiny-gpu.yaml:6:1 hbmTbps: `, "unknown key 'hbmTbps'; did you mean 'hbmTBps'?"],
    // The missing key is reported at its parent map, the flow map `{` at column 17 of line 11.
    ['missing-key', `${FIX}/missing-key/gpu/tiny-gpu.yaml:11:17 efficiency.decodeMemory.max: `, 'missing; expected number'],
    ['min-over-max', `${FIX}/min-over-max/transport/tiny-link.yaml:4:25 bandwidthPerRailGBps.min: `, 'min (30) must be <= typical (25)'],
    ['factor-out-of-range', `${FIX}/factor-out-of-range/gpu/tiny-gpu.yaml:11:42 efficiency.decodeMemory.max: `, 'max (0.9) must be >= value (0.95)'],
    ['missing-source', `${FIX}/missing-source/gpu/tiny-gpu.yaml:8:36 hostLink.GBps: `, 'has no source'],
    ['stale-source', `${FIX}/stale-source/gpu/tiny-gpu.yaml:27:3 sources.hbmTBs: `, 'names no field of this record'],
    ['unknown-gpu', `${FIX}/unknown-gpu/node/tiny-node.yaml:3:1 gpu: `, "unknown gpu 'tiny-gpo'; did you mean 'tiny-gpu'?"],
    ['unknown-transport', `${FIX}/unknown-transport/node/tiny-node.yaml:6:25 transports[1]: `, "unknown transport 'tiny-lnk'; did you mean 'tiny-link'?"],
    ['id-mismatch', `${FIX}/id-mismatch/gpu/tiny-gpu.yaml:1:1 id: `, "id 'other-gpu' must match the file name 'tiny-gpu.yaml'"],
    ['bad-attention', `${FIX}/bad-attention/llm/tiny-gqa.yaml:4:1 attention: `, "expected one of 'gqa', 'mla', got string 'mha'"],
  ])('%s', (dir, where, what) => {
    const msg = errorOf(dir).message;
    expect(msg.startsWith(where), msg).toBe(true);
    expect(msg).toContain(what);
    expect(msg).not.toMatch(/\n\s+at /); // no stack trace in the message
  });

  test('both ends of a reversed range count as problems, the first in the file is named', () => {
    expect(errorOf('min-over-max').message).toMatch(/\(and 1 more problem in this file\)$/);
  });

  test('a YAML syntax error gives the line where the parser noticed it and the field it is in', () => {
    // The flow map opened on line 10 is unclosed; the parser notices at the next key, line 11 column 3.
    const msg = errorOf('malformed').message;
    expect(msg).toMatch(/^test\/fixtures\/catalog\/malformed\/gpu\/tiny-gpu\.yaml:11:3: YAML syntax error near efficiency\.decodeMemory: /);
    expect(msg).toContain('end with a }');
    expect(msg).not.toContain('\n');
  });

  test('a duplicate key is a syntax error at the second occurrence', () => {
    expect(errorOf('duplicate-key').message).toMatch(/tiny-gpu\.yaml:7:1: YAML syntax error near hbmGB: Map keys must be unique$/);
  });
});
