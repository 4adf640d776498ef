import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import type { Catalog, ConnectorProfile } from '../../src/catalog/index.js';
import { deathText, expiredText } from '../../src/cli/commands/quickstart.js';
import { expandPoints, loadExperiment } from '../../src/experiment/index.js';
import type { PointResult } from '../../src/spec/experiment.js';
import { ROOT } from '../helpers/cli.js';

/** The quickstart's stories are told in the texts of the records the points ran (models/connector/), not its own. */
const c = defaultCatalog();
const [wider, anyTp] = expandPoints(loadExperiment(join(ROOT, 'experiments/seeds/asymmetric-tp.yaml'))); // prefill TP4, decode TP1

function withProfile(p: ConnectorProfile): Catalog {
  return { ...c, connectors: new Map([...c.connectors, [p.id, p]]) };
}

describe('quickstart: a dead decode engine, in its profile texts', () => {
  it("decode-wider-tp with prefill TP wider: the handshake's error, then what get_finished() raises", () => {
    expect(wider!.experiment.deployment.connector).toBe('decode-wider-tp');
    // models/connector/decode-wider-tp.yaml: prefillWiderHandshake ZeroDivisionError; engineUnregistered KeyError "'{engineId}' in ...".
    expect(deathText(wider!, c)).toBe("ZeroDivisionError in the handshake, then KeyError: '<engine id>' in block_size_ratio_from_engine_id");
  });

  it('another text in the record is the text told', () => {
    const base = c.connectors.get('decode-wider-tp')!;
    const edited = withProfile({
      ...base,
      errors: { ...base.errors, prefillWiderHandshake: { error: 'ValueError', message: 'x' }, engineUnregistered: { error: 'RuntimeError', message: 'engine {engineId} gone' } },
    });
    expect(deathText(wider!, edited)).toBe('ValueError in the handshake, then RuntimeError: engine <engine id> gone');
  });

  it('a build that handles prefill TP wider (any-tp) has no handshake error to tell, only the engine death', () => {
    expect(anyTp!.experiment.deployment.connector).toBe('any-tp');
    expect(deathText(anyTp!, c)).toBe("KeyError: '<engine id>' in block_size_ratio_from_engine_id");
  });
});

describe("quickstart: the expired KV, at the point's own expiry", () => {
  const r = (expiry: PointResult['expiry']) => ({ events: { kv_blocks_expired: 3 }, expiry }) as unknown as PointResult;
  it('an abort timeout names its seconds twice, as the log line does', () => {
    const text = expiredText({ point: wider!, r: r({ connector: 'decode-wider-tp', kind: 'abort-timeout', timeoutS: 300 }) });
    expect(text).toBe(
      '   On roce-rdma from 2000 tokens the KV read outlasts the 300 s abort timeout: every prefill rank logs "Releasing expired KV blocks ... within 300 seconds" (3 lines) and the request is prefilled again on the decode worker.',
    );
  });

  it('a lease names the lease', () => {
    const text = expiredText({ point: wider!, r: r({ connector: 'any-tp-hardened', kind: 'lease', leaseS: 30, heartbeatS: 5, extendS: 20 }) });
    expect(text).toContain('outlasts its 30 s KV lease: every prefill rank logs "Releasing expired KV blocks ... before lease expired" (3 lines)');
  });
});
