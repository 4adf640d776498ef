/**
 * vLLM release -> connector profile: every range's boundaries, the expiry a range carries, unknown versions, and the
 * two ways a user names a release (--vllm, deployment.vllm).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/index.js';
import type { Catalog, ConnectorProfile } from '../../src/spec/catalog.js';
import { releaseProfile, releaseTable, resolveVllm } from '../../src/catalog/vllm.js';
import { UserError } from '../../src/errors.js';
import { expandPoints, loadExperiment } from '../../src/experiment/index.js';
import { nixlsimInProcess } from '../helpers/cli.js';

const c = defaultCatalog();
const profileOf = (v: string) => resolveVllm(c, v).profile.id;
const expiryOf = (v: string) => releaseProfile(resolveVllm(c, v)).expiry;

describe('resolveVllm', () => {
  it('places each release at its range, both sides of every boundary', () => {
    const cases: [string, string][] = [
      ['0.9.0', 'equal-tp'],
      ['0.9.1', 'decode-wider-tp'], // vllm#18833 in v0.9.1's notes
      ['0.10.1', 'decode-wider-tp'],
      ['0.10.2', 'decode-wider-tp'],
      ['0.11.0', 'decode-wider-tp'],
      ['0.13.9', 'decode-wider-tp'],
      ['0.14.0', 'any-tp'], // vllm#27274
      ['0.21.9', 'any-tp'],
      ['0.22.0', 'any-tp-hardened'], // #40364 and the lease (#41383) in v0.22.0's notes
      ['0.25.1', 'any-tp-hardened'],
    ];
    for (const [v, id] of cases) expect(profileOf(v), v).toBe(id);
  });

  it("the abort timeout: 120 s to 0.10.x, 480 s from 0.11.0 (vllm#25897) with 0.11-0.13 still decode-wider, a lease from 0.22.0", () => {
    expect(expiryOf('0.9.0')).toEqual({ kind: 'abort-timeout', timeoutS: 120 });
    expect(expiryOf('0.10.2')).toEqual({ kind: 'abort-timeout', timeoutS: 120 });
    expect(expiryOf('0.11.0')).toEqual({ kind: 'abort-timeout', timeoutS: 480 });
    expect(releaseProfile(resolveVllm(c, '0.11.0')).tp).toEqual({ decodeWider: 'ok', prefillWider: 'crash' });
    expect(expiryOf('0.14.0')).toEqual({ kind: 'abort-timeout', timeoutS: 480 });
    expect(expiryOf('0.22.0')).toEqual({ kind: 'lease', leaseS: 30, heartbeatS: 5, extendS: 20 });
  });

  it('reads v-prefixed and post releases (0.10.1.1 is 0.10.1)', () => {
    expect(profileOf('v0.10.1')).toBe('decode-wider-tp');
    expect(profileOf('0.10.1.1')).toBe('decode-wider-tp');
  });

  it('an unknown release or a development build is one UserError naming the known ranges', () => {
    for (const v of ['0.8.5', '0.1.dev1+g2b51d23f6', '0.11', 'latest']) {
      let err: unknown;
      try {
        resolveVllm(c, v);
      } catch (e) {
        err = e;
      }
      expect(err, v).toBeInstanceOf(UserError);
      const m = (err as UserError).message;
      expect(m).not.toContain('\n');
      expect(m).toContain('>=0.9.0 <0.9.1 equal-tp, >=0.9.1 <0.11.0 decode-wider-tp, >=0.11.0 <0.14.0 decode-wider-tp, >=0.14.0 <0.22.0 any-tp, >=0.22.0 any-tp-hardened');
    }
  });

  it('every range has its source, and no two profiles claim a release', () => {
    const t = releaseTable(c);
    expect(t.map((r) => r.release.versions)).toEqual(['>=0.9.0 <0.9.1', '>=0.9.1 <0.11.0', '>=0.11.0 <0.14.0', '>=0.14.0 <0.22.0', '>=0.22.0']);
    for (const r of t) expect(r.release.source.length).toBeGreaterThan(40);
    // Overlap: any-tp claiming 0.13.x as well is refused.
    const anyTp = c.connectors.get('any-tp')!;
    const bad: ConnectorProfile = { ...anyTp, vllmReleases: [{ versions: '>=0.13.0 <0.22.0', source: 'test' }] };
    const overlapping: Catalog = { ...c, connectors: new Map([...c.connectors, ['any-tp', bad]]) };
    expect(() => releaseTable(overlapping)).toThrow(/ranges overlap: '>=0.11.0 <0.14.0' of connector 'decode-wider-tp' and '>=0.13.0 <0.22.0' of 'any-tp'/);
  });
});

describe('--vllm on the command line', () => {
  it('handshake --vllm 0.10.1 is decode-wider-tp: prefill TP4 -> decode TP1 crashes with KeyError; --vllm 0.14.0 serves it', async () => {
    const crash = await nixlsimInProcess(['handshake', '--prefill-tp', '4', '--decode-tp', '1', '--vllm', '0.10.1', '--json']);
    expect(crash.code, crash.stderr).toBe(0);
    expect(JSON.parse(crash.stdout)).toMatchObject({ outcome: 'crash', stage: 'first-transfer', error: 'KeyError' });
    const ok = await nixlsimInProcess(['handshake', '--prefill-tp', '4', '--decode-tp', '1', '--vllm', '0.14.0', '--json']);
    expect(JSON.parse(ok.stdout)).toMatchObject({ outcome: 'ok', readsPerRequest: 4 });
    expect(JSON.parse((await nixlsimInProcess(['handshake', '--prefill-tp', '1', '--decode-tp', '2', '--vllm', '0.9.0', '--json'])).stdout).outcome).toBe('rejected');
  });

  it('an unknown version exits 2 with one line naming the ranges; a disagreeing --connector too', async () => {
    const r = await nixlsimInProcess(['handshake', '--prefill-tp', '1', '--decode-tp', '1', '--vllm', '0.8.5']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--vllm 0.8.5: vLLM 0.8.5 is not in the connector release table (known releases: >=0.9.0 <0.9.1 equal-tp');
    const both = await nixlsimInProcess(['handshake', '--prefill-tp', '1', '--decode-tp', '1', '--vllm', '0.10.1', '--connector', 'any-tp']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--vllm 0.10.1 is connector profile 'decode-wider-tp' (>=0.9.1 <0.11.0), not --connector 'any-tp'");
    expect((await nixlsimInProcess(['handshake', '--prefill-tp', '1', '--decode-tp', '1', '--vllm', '0.10.1', '--connector', 'decode-wider-tp', '--json'])).code).toBe(0);
    expect((await nixlsimInProcess(['handshake', '--prefill-tp', '1', '--decode-tp', '1'])).code).toBe(2);
  });

  it('plan takes --vllm too, and refuses an unknown release before planning anything', async () => {
    const base = ['plan', '--model', 'llama-3.1-8b-instruct', '--node', 'p5.48xlarge', '--transport', 'efa-libfabric', '--gpus', '2', '--workload', 'experiments/seeds/breakeven.yaml', '--slo', 'ttft_p95_ms<=2000', '--out', '/tmp/nixlsim-vllm-plan-never'];
    const r = await nixlsimInProcess([...base, '--vllm', '0.8.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--vllm 0.8.5: vLLM 0.8.5 is not in the connector release table');
    expect((await nixlsimInProcess([...base, '--vllm', '0.10.1', '--connector', 'any-tp'])).code).toBe(2);
  });
});

describe('deployment.vllm in an experiment file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nixlsim-vllm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const seed = readFileSync('experiments/seeds/asymmetric-tp.yaml', 'utf8').replace(/^sweep:[\s\S]*$/m, '');
  const write = (name: string, connectorLines: string) => {
    const file = join(dir, name);
    writeFileSync(file, seed.replace(/^ {2}connector: decode-wider-tp.*$/m, connectorLines));
    return file;
  };

  it('"0.12.0" is decode-wider-tp with its range\'s 480 s abort timeout; a file expiry still wins', () => {
    const [p] = expandPoints(loadExperiment(write('a.yaml', '  vllm: "0.12.0"')));
    expect(p!.experiment.deployment.connector).toBe('decode-wider-tp');
    expect(p!.experiment.deployment.vllm).toBe('0.12.0');
    expect(p!.experiment.deployment.expiry).toEqual({ kind: 'abort-timeout', timeoutS: 480 });
    const [q] = expandPoints(loadExperiment(write('b.yaml', '  vllm: "0.10.1"')));
    expect(q!.experiment.deployment.connector).toBe('decode-wider-tp');
    expect(q!.experiment.deployment.expiry).toBeUndefined(); // the profile's own 120 s
    const [r] = expandPoints(loadExperiment(write('c.yaml', '  vllm: "0.12.0"\n  expiry: { kind: abort-timeout, timeoutS: 60 }')));
    expect(r!.experiment.deployment.expiry).toEqual({ kind: 'abort-timeout', timeoutS: 60 });
  });

  it('connector and vllm that agree are fine; that disagree, or neither, is one error at the field', () => {
    expect(() => loadExperiment(write('d.yaml', '  vllm: "0.14.0"\n  connector: any-tp'))).not.toThrow();
    expect(() => loadExperiment(write('e.yaml', '  vllm: "0.10.1"\n  connector: any-tp'))).toThrow(
      /e\.yaml:12:3 deployment\.vllm: vLLM 0\.10\.1 is connector profile 'decode-wider-tp' \(>=0\.9\.1 <0\.11\.0\), not 'any-tp'/,
    );
    expect(() => loadExperiment(write('f.yaml', '  vllm: "0.8.5"'))).toThrow(/f\.yaml:12:3 deployment\.vllm: vLLM 0\.8\.5 is not in the connector release table/);
    expect(() => loadExperiment(write('g.yaml', '  # neither connector nor vllm'))).toThrow(/deployment\.connector: missing; expected a connector profile/);
  });

  it('nixlsim validate exits 2 on an unknown release', async () => {
    const r = await nixlsimInProcess(['validate', write('h.yaml', '  vllm: "0.8.5"')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('deployment.vllm: vLLM 0.8.5 is not in the connector release table');
  });
});
