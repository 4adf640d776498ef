import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, test } from 'vitest';
import { CONNECTOR_PLACEHOLDERS, defaultCatalog, defaultModelsDir, getConnector, loadCatalog, placeholdersIn } from '../../src/catalog/index.js';
import type { ConnectorProfile } from '../../src/catalog/index.js';
import { UserError } from '../../src/errors.js';

const c = defaultCatalog();
const FIX = 'test/fixtures/catalog';

const OLD_BLOCK_SIZE = 'Remote P worker with different block size is not supported self.block_size={decodeBlockSize} remote_block_size={prefillBlockSize}';
const NEW_TP = 'Local tensor parallel size {decodeTp} is not divisible by remote tensor parallel size {prefillTp}.';
const NEW_BLOCK_SIZE = 'Local block size {decodeBlockSize} is not divisible by remote block size {prefillBlockSize} or vice versa.';
const BLOCK_SIZE_P_WIDER = { error: 'AssertionError', message: 'Different local/remote block sizes are not supported when P TP > D TP.' };
const SAME_TP = { error: 'NotImplementedError', message: 'Prefill and Decode instances must have the same TP size.' };
const TIMEOUT = { error: 'zmq.error.Again', message: 'Resource temporarily unavailable' };

/** The fields a simulation branches on, without names, texts and sources. */
// Every profile's builds prepare the remote descriptor list in vLLM's Python loop: vllm-project/vllm#48209 measured
// 1112 + 329 + 20 = 1461 ms for ~6.5M descriptors, 1461e-3 / 6.5e6 = 0.225 us a descriptor.
const PREP = 0.000000225;

function behaviour(p: ConnectorProfile) {
  return { tp: p.tp, blockSize: p.blockSize, handshake: p.handshake, kvLoadFailurePolicy: p.kvLoadFailurePolicy, expiry: p.expiry };
}

describe('the project connector profiles (models/connector/)', () => {
  test('hold the four contract ids', () => {
    expect([...c.connectors.keys()]).toEqual(['any-tp', 'any-tp-hardened', 'decode-wider-tp', 'equal-tp']);
  });

  test('equal-tp: first builds, unequal TP refused at the handshake, no handshake timeout, 120 s abort timeout', () => {
    const p = getConnector(c, 'equal-tp');
    expect(behaviour(p)).toEqual({
      tp: { decodeWider: 'rejected', prefillWider: 'rejected' },
      blockSize: { rule: 'equal-only', equalWhenPrefillWider: false },
      handshake: { timeoutS: null, onFailure: 'engine-dead', prepPerDescriptorS: PREP },
      kvLoadFailurePolicy: null,
      expiry: { kind: 'abort-timeout', timeoutS: 120 },
    });
    expect(p.errors.decodeWiderRejected).toEqual(SAME_TP);
    expect(p.errors.prefillWiderRejected).toEqual(SAME_TP);
    expect(p.errors.tpNotDivisible).toEqual(SAME_TP);
    expect(p.errors.blockSizeMismatch).toEqual({ error: 'AssertionError', message: OLD_BLOCK_SIZE });
    expect(p.errors.handshakeTimeout).toEqual(TIMEOUT);
    expect(Object.keys(p.errors)).toEqual(['decodeWiderRejected', 'prefillWiderRejected', 'prefillWiderHandshake', 'prefillWiderFirstTransfer', 'tpNotDivisible', 'blockSizeMismatch', 'engineUnregistered', 'compatHashMismatch', 'handshakeTimeout']);
    expect(p.sources.errors).toContain('pre-merge');
    expect(p.sources.errors).toContain('no explicit equal-TP check');
    expect(p.sources.errors).toContain('only version/model');
  });

  test('decode-wider-tp: PR #18833, prefill TP > decode TP crashes (seed 003)', () => {
    const p = getConnector(c, 'decode-wider-tp');
    expect(behaviour(p)).toEqual({
      tp: { decodeWider: 'ok', prefillWider: 'crash' },
      blockSize: { rule: 'equal-only', equalWhenPrefillWider: false },
      handshake: { timeoutS: null, onFailure: 'engine-dead', prepPerDescriptorS: PREP },
      kvLoadFailurePolicy: null,
      expiry: { kind: 'abort-timeout', timeoutS: 120 },
    });
    expect(p.upstream[0]).toContain('vllm-project/vllm#18833');
    expect(p.errors.prefillWiderHandshake?.error).toBe('ZeroDivisionError');
    expect(p.errors.prefillWiderHandshake?.message).toMatch(/^integer division or modulo by zero .*tp_ratio = \{decodeTp\} \/\/ \{prefillTp\}/);
    expect(p.errors.prefillWiderFirstTransfer?.error).toBe('KeyError');
    expect(p.errors.prefillWiderFirstTransfer?.message).toMatch(/^'\{engineId\}' \(/);
    expect(p.errors.prefillWiderFirstTransfer?.message).toContain('EngineDeadError');
    expect(p.errors.tpNotDivisible).toEqual({ error: 'AssertionError', message: '{decodeTp} is not divisible by {prefillTp}' });
    expect(p.errors.blockSizeMismatch.message).toBe(OLD_BLOCK_SIZE);
    expect(p.errors.decodeWiderRejected).toBeUndefined();
    expect(p.errors.prefillWiderRejected).toBeUndefined();
    expect(p.errors.blockSizePrefillWider).toBeUndefined();
  });

  test('any-tp: PR #27274, 5 s handshake timeout, 480 s abort timeout (PR #25897)', () => {
    const p = getConnector(c, 'any-tp');
    expect(behaviour(p)).toEqual({
      tp: { decodeWider: 'ok', prefillWider: 'ok' },
      blockSize: { rule: 'decode-multiple', equalWhenPrefillWider: true },
      handshake: { timeoutS: 5, onFailure: 'engine-dead', prepPerDescriptorS: PREP },
      kvLoadFailurePolicy: 'fail',
      expiry: { kind: 'abort-timeout', timeoutS: 480 },
    });
    expect(p.errors.tpNotDivisible).toEqual({ error: 'AssertionError', message: NEW_TP });
    expect(p.errors.blockSizeMismatch).toEqual({ error: 'AssertionError', message: NEW_BLOCK_SIZE });
    expect(p.errors.blockSizePrefillWider).toEqual(BLOCK_SIZE_P_WIDER);
    expect(p.errors.compatHashMismatch.error).toBe('RuntimeError');
    expect(p.errors.compatHashMismatch.message).toMatch(/^NIXL compatibility hash mismatch\. Local: .*, Remote: .*\. Prefill and decode instances have incompatible configurations\./);
    expect(p.errors.handshakeTimeout).toEqual(TIMEOUT);
  });

  test('any-tp-hardened: as any-tp, but failed handshakes fail requests and KV blocks are leased 30/5/20 s', () => {
    const p = getConnector(c, 'any-tp-hardened');
    expect(behaviour(p)).toEqual({
      tp: { decodeWider: 'ok', prefillWider: 'ok' },
      blockSize: { rule: 'decode-multiple', equalWhenPrefillWider: true },
      handshake: { timeoutS: 5, onFailure: 'fail-requests', prepPerDescriptorS: PREP },
      kvLoadFailurePolicy: 'fail',
      // 30 s lease; heartbeat every 30 // 6 = 5 s; each extends to now + 30 * 2 // 3 = 20 s.
      expiry: { kind: 'lease', leaseS: 30, heartbeatS: 5, extendS: 20 },
    });
    expect(p.upstream[0]).toContain('vllm-project/vllm#40364');
    expect(p.errors).toEqual(getConnector(c, 'any-tp').errors);
  });

  test('every message uses only the known placeholders, and every profile names where its texts come from', () => {
    for (const p of c.connectors.values()) {
      expect(p.sources.upstream, p.id).toBeTruthy();
      expect(p.sources.errors, p.id).toBeTruthy();
      for (const e of Object.values(p.errors)) {
        for (const name of placeholdersIn(e.message)) expect(CONNECTOR_PLACEHOLDERS, `${p.id}: ${e.message}`).toContain(name);
      }
    }
  });

  test('profiles are frozen', () => {
    expect(() => {
      (getConnector(c, 'any-tp').handshake as { timeoutS: number | null }).timeoutS = 1;
    }).toThrow(TypeError);
  });

  /** Independent of the loader, as for the other kinds: each number and null is covered by a sources entry. */
  test.each(readdirSync(join(defaultModelsDir(), 'connector')).filter((f) => f.endsWith('.yaml')))('%s: every number and null has a source', (f) => {
    const rec = parse(readFileSync(join(defaultModelsDir(), 'connector', f), 'utf8')) as Record<string, unknown> & { sources: Record<string, string> };
    const numbers = (v: unknown, path: string[] = []): string[][] =>
      typeof v === 'number' || v === null ? [path] : typeof v !== 'object' ? [] : Object.entries(v).flatMap(([k, x]) => (path.length === 0 && k === 'sources' ? [] : numbers(x, [...path, k])));
    const fields = numbers(rec);
    expect(fields.length).toBeGreaterThanOrEqual(2);
    for (const field of fields) {
      expect(field.some((_, i) => rec.sources[field.slice(0, i + 1).join('.')] !== undefined), `${f}: ${field.join('.')}`).toBe(true);
    }
  });
});

describe('getConnector', () => {
  test('an unknown id suggests the near miss', () => {
    expect(() => getConnector(c, 'any-tp-hardend')).toThrow(UserError);
    expect(() => getConnector(c, 'any-tp-hardend')).toThrow(/^unknown connector 'any-tp-hardend'; did you mean 'any-tp-hardened'\? Known: any-tp, any-tp-hardened, decode-wider-tp, equal-tp$/);
    expect(() => getConnector(c, 'equal_tp')).toThrow("did you mean 'equal-tp'?");
    expect(() => getConnector(c, 'lmcache')).toThrow(/^unknown connector 'lmcache'\. Known: /);
  });
});

describe('a connector file in another catalog directory', () => {
  test('loads with every optional error, a lease and a recompute policy', () => {
    const p = getConnector(loadCatalog(`${FIX}/valid`), 'tiny-conn');
    expect(behaviour(p)).toEqual({
      tp: { decodeWider: 'rejected', prefillWider: 'crash' },
      blockSize: { rule: 'decode-multiple', equalWhenPrefillWider: true },
      // prepPerDescriptorS left out of the file: 0, no set-up beyond the side channel (the behaviour before the field).
      handshake: { timeoutS: 2.5, onFailure: 'fail-requests', prepPerDescriptorS: 0 },
      kvLoadFailurePolicy: 'recompute',
      expiry: { kind: 'lease', leaseS: 12, heartbeatS: 2, extendS: 8 },
    });
    expect(p.errors.prefillWiderFirstTransfer).toEqual({ error: 'KeyError', message: "'{engineId}'" });
    // Braces around anything but a name are literal text, not placeholders.
    expect(p.errors.compatHashMismatch.message).toBe('hash mismatch, literal braces {"a": {"b": false}} stay');
    expect(placeholdersIn(p.errors.handshakeTimeout.message)).toEqual(['port', 'timeoutS']);
  });
});

function errorOf(dir: string): string {
  try {
    loadCatalog(`${FIX}/${dir}`);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as UserError).message;
  }
  throw new Error(`${dir} loaded without error`);
}

/** Each fixture is valid/connector/tiny-conn.yaml with one mistake; lines and columns counted by hand. */
describe('a bad connector file names file, line, column and field', () => {
  const file = (dir: string) => `${FIX}/${dir}/connector/tiny-conn.yaml`;
  test.each([
    // A missing key in a block map is reported at the map's first key (line 6: decodeWiderRejected).
    [
      'connector-missing-error',
      `${file('connector-missing-error')}:6:3 errors.prefillWiderFirstTransfer: `,
      "missing; expected { error, message }, the error the first get_finished() raises, because tp.prefillWider is 'crash'",
    ],
    // Line 11: `  blockSizePrefillWider: { error: AssertionError, message: ...`, the key `message` at column 51.
    ['connector-unknown-placeholder', `${file('connector-unknown-placeholder')}:11:51 errors.blockSizePrefillWider.message: `, 'unknown placeholder {foo}; placeholders are {prefillTp} {decodeTp}'],
    // Line 17: `expiry: { kind: lease, leaseS: 12, heartbeatS: 12, ...`, heartbeatS at column 36.
    ['connector-lease-heartbeat', `${file('connector-lease-heartbeat')}:17:36 expiry.heartbeatS: `, 'heartbeatS (12) must be < leaseS (12)'],
    ['connector-errors-source', `${file('connector-errors-source')}:19:3 sources.errors: `, 'missing; expected a source for the error texts'],
    ['connector-unused-error', `${file('connector-unused-error')}:6:3 errors.decodeWiderRejected: `, "is never raised because tp.decodeWider is 'ok'; remove it"],
    ['connector-null-source', `${file('connector-null-source')}:16:1 kvLoadFailurePolicy: `, 'has no source'],
    ['connector-empty-upstream', `${file('connector-empty-upstream')}:3:1 upstream: `, 'expected at least one upstream pull request or build'],
  ])('%s', (dir, where, what) => {
    const msg = errorOf(dir);
    expect(msg.startsWith(where), msg).toBe(true);
    expect(msg).toContain(what);
    expect(msg).not.toContain('\n');
  });

  test('a near-miss placeholder gets a suggestion, {foo} none', () => {
    // Line 8: `  prefillWiderFirstTransfer: { error: KeyError, message: "'{engineid}'" }`, `message` at column 49.
    expect(errorOf('connector-placeholder-case')).toMatch(
      /^test\/fixtures\/catalog\/connector-placeholder-case\/connector\/tiny-conn\.yaml:8:49 errors\.prefillWiderFirstTransfer\.message: unknown placeholder \{engineid\}; did you mean \{engineId\}\? placeholders are /,
    );
    expect(errorOf('connector-unknown-placeholder')).not.toContain('did you mean');
  });
});
