import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hypotheses } from '../../src/audit/hypotheses.js';
import { defaultCatalog, defaultConnector, fallbackTransport, getLlm, loadCatalog, useUserCatalog } from '../../src/catalog/index.js';
import type { Catalog, ConnectorProfile, TransportSpec } from '../../src/catalog/index.js';
import { connectorsByRelease } from '../../src/catalog/vllm.js';
import { breakevenExperiment } from '../../src/cli/commands/breakeven.js';
import { UserError } from '../../src/errors.js';
import { expandPoints, loadExperiment } from '../../src/experiment/index.js';
import { transferCurveSpec } from '../../src/report/charts/kinds.js';
import { truthTableMarkdown } from '../../src/report/truth-table.js';
import { fixture } from '../audit/helpers.js';
import { ROOT } from '../helpers/cli.js';

/**
 * The roles records play for the whole catalog (issue #25, behaviour as data): the default connector profile
 * (`default: true`), the fallback transports audit tries (`fallbackWhen`), how charts draw a transport (`display`) and
 * the order profiles are shown in (their vllmReleases). Each test moves a role to another record and checks that the
 * code follows the record, not an id.
 */

const c = defaultCatalog();

/** A copy of models/ with some files edited: path -> (text -> new text). */
function models(edits: Record<string, (text: string) => string>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'nixlsim-roles-')), 'models');
  cpSync(join(ROOT, 'models'), dir, { recursive: true });
  for (const [path, edit] of Object.entries(edits)) {
    const file = join(dir, path);
    const before = readFileSync(file, 'utf8');
    const after = edit(before);
    expect(after, `the edit of ${path} changed nothing`).not.toBe(before);
    writeFileSync(file, after);
  }
  return dir;
}

function loadError(dir: string, userDirs: string[] = []): string {
  try {
    loadCatalog(dir, userDirs);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as UserError).message;
  }
  throw new Error(`${dir} loaded without error`);
}

/** The catalog with some records replaced (records made in code: no schema, no cross-checks). */
function withRecords(base: Catalog, o: { transports?: TransportSpec[]; connectors?: ConnectorProfile[] }): Catalog {
  const transports = new Map(base.transports);
  for (const t of o.transports ?? []) transports.set(t.id, t);
  const connectors = new Map(base.connectors);
  for (const p of o.connectors ?? []) connectors.set(p.id, p);
  return { ...base, transports, connectors };
}

function without<T extends object>(record: T, key: keyof T): T {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

describe('default: true, the connector profile used when none is named', () => {
  it('is any-tp in the package catalog (models/connector/any-tp.yaml), the only one marked', () => {
    expect(defaultConnector(c).id).toBe('any-tp');
    expect([...c.connectors.values()].filter((p) => p.default).map((p) => p.id)).toEqual(['any-tp']);
  });

  it('a second profile marked default is rejected at its field, naming the first', () => {
    // decode-wider-tp.yaml: two comment lines, id (3), name (4); the inserted line is 5. By id, any-tp loads first.
    const dir = models({ 'connector/decode-wider-tp.yaml': (t) => t.replace(/^(name: .*\n)/m, '$1default: true\n') });
    const msg = loadError(dir);
    expect(msg).toMatch(/decode-wider-tp\.yaml:5:1 default: connector 'any-tp' \(.*any-tp\.yaml\) is already the default profile; exactly one connector record may set default: true$/);
  });

  it('none marked is rejected, naming the connector directory', () => {
    const dir = models({ 'connector/any-tp.yaml': (t) => t.replace(/^default: true\n/m, '') });
    expect(loadError(dir)).toMatch(/models\/connector: no connector profile sets default: true; exactly one must/);
  });

  it('a user catalog moves it: its record replacing the default one without the mark, and its own profile marked', () => {
    const user = mkdtempSync(join(tmpdir(), 'nixlsim-roles-user-'));
    mkdirSync(join(user, 'connector'));
    const anyTp = readFileSync(join(ROOT, 'models/connector/any-tp.yaml'), 'utf8');
    writeFileSync(join(user, 'connector/any-tp.yaml'), anyTp.replace(/^default: true\n/m, ''));
    const mine = anyTp.replace(/^id: any-tp$/m, 'id: site-build').replace(/^vllmReleases:\n  - versions: .*\n/m, '').replace(/^  vllmReleases\.0: [\s\S]*$/m, '');
    writeFileSync(join(user, 'connector/site-build.yaml'), mine);
    const merged = loadCatalog(join(ROOT, 'models'), [user]);
    expect(defaultConnector(merged).id).toBe('site-build');
    // breakeven's experiment runs the catalog's default profile, whichever record has it.
    const exp = breakevenExperiment({ model: 'llama-3.1-8b-instruct', transport: 'efa-libfabric', isl: [1000], osl: 100, concurrency: 10, requests: 20, warmup: 2, seed: 2, catalog: merged }, 'p5.48xlarge');
    expect((exp['deployment'] as { connector: string }).connector).toBe('site-build');
  });

  it('a catalog made in code without one answers with a user error naming the profiles', () => {
    const none = withRecords(c, { connectors: [without(c.connectors.get('any-tp')!, 'default')] });
    expect(() => defaultConnector(none)).toThrow(/^no connector profile in the catalog is the default \(default: true\); name one \(nixlsim list connectors: any-tp, any-tp-hardened, decode-wider-tp, equal-tp\)$/);
  });
});

describe('fallbackWhen, the transports audit tries as causes of a slow transfer', () => {
  it('is tcp for no-rdma and host-staged for no-gpudirect in the package catalog', () => {
    expect(fallbackTransport(c, 'no-rdma')?.id).toBe('tcp');
    expect(fallbackTransport(c, 'no-gpudirect')?.id).toBe('host-staged');
  });

  it('audit tries the records marked, not ids: moved to efa-ucx, both hypotheses run on efa-ucx', () => {
    const [base] = expandPoints(loadExperiment(fixture('p5-disaggregated.yaml'))); // efa-libfabric (GPUDirect) on p5.48xlarge
    const moved = (when: 'no-rdma' | 'no-gpudirect') =>
      withRecords(c, {
        transports: [
          without(c.transports.get('tcp')!, 'fallbackWhen'),
          without(c.transports.get('host-staged')!, 'fallbackWhen'),
          { ...c.transports.get('efa-ucx')!, fallbackWhen: when },
        ],
      });
    const transportOf = (cat: Catalog) => Object.fromEntries(hypotheses(base!, cat).map((h) => [h.cause, h.point.experiment.deployment.transport]));
    expect(transportOf(c)).toEqual({ queueing: 'efa-libfabric', 'tcp-fallback': 'tcp', 'host-staging': 'host-staged' });
    expect(transportOf(moved('no-rdma'))).toEqual({ queueing: 'efa-libfabric', 'tcp-fallback': 'efa-ucx' });
    expect(transportOf(moved('no-gpudirect'))).toEqual({ queueing: 'efa-libfabric', 'host-staging': 'efa-ucx' });
  });

  it('two records of one role are rejected at the second, naming the first', () => {
    // efa-ucx sorts before tcp, so tcp's own mark (line 12) is the second claimant.
    const dir = models({ 'transport/efa-ucx.yaml': (t) => t.replace('gpuDirect: false\n', 'gpuDirect: false\nfallbackWhen: no-rdma\n') });
    expect(loadError(dir)).toMatch(/tcp\.yaml:12:1 fallbackWhen: transport 'efa-ucx' is already the 'no-rdma' fallback; at most one transport record may set fallbackWhen: no-rdma$/);
  });

  it('a GPUDirect transport cannot be a fallback', () => {
    // ib-rdma.yaml: gpuDirect on line 10, the inserted mark on line 11.
    const dir = models({ 'transport/ib-rdma.yaml': (t) => t.replace('gpuDirect: true\n', 'gpuDirect: true\nfallbackWhen: no-gpudirect\n') });
    expect(loadError(dir)).toMatch(/ib-rdma\.yaml:11:1 fallbackWhen: a fallback \('no-gpudirect'\) moves the KV through host memory; expected gpuDirect: false with it$/);
  });
});

describe('display, how every chart draws a transport', () => {
  afterEach(() => useUserCatalog([]));

  const points = ['ib-rdma', 'tcp'].map((transport) => ({ transport, blockSize: 4096, blockText: '4K', bandwidthGBps: 1, latencyUs: 1 }));
  const scales = () => {
    const spec = transferCurveSpec(points) as unknown as { encoding: { color: { scale: unknown } }; layer: { encoding?: { shape?: { scale: unknown } } }[] };
    return { colour: spec.encoding.color.scale, shape: spec.layer[1]!.encoding!.shape!.scale };
  };

  it("charts take each transport's colour and shape from its record", () => {
    // ib-rdma.yaml and tcp.yaml: tableau10's first and ninth colours.
    expect(scales()).toEqual({
      colour: { domain: ['ib-rdma', 'tcp'], range: ['#4c78a8', '#9d755d'] },
      shape: { domain: ['ib-rdma', 'tcp'], range: ['circle', 'triangle-down'] },
    });
    // A user's tcp record drawn otherwise is drawn otherwise.
    const user = mkdtempSync(join(tmpdir(), 'nixlsim-roles-display-'));
    mkdirSync(join(user, 'transport'));
    const tcp = readFileSync(join(ROOT, 'models/transport/tcp.yaml'), 'utf8').replace('display: { colour: "#9d755d", shape: triangle-down }', 'display: { colour: "#eeca3b", shape: wedge }');
    writeFileSync(join(user, 'transport/tcp.yaml'), tcp);
    useUserCatalog([user]);
    expect(scales()).toEqual({
      colour: { domain: ['ib-rdma', 'tcp'], range: ['#4c78a8', '#eeca3b'] },
      shape: { domain: ['ib-rdma', 'tcp'], range: ['circle', 'wedge'] },
    });
  });

  it('a transport without display puts the series on tableau10 and the shapes in series order', () => {
    const user = mkdtempSync(join(tmpdir(), 'nixlsim-roles-display-'));
    mkdirSync(join(user, 'transport'));
    const tcp = readFileSync(join(ROOT, 'models/transport/tcp.yaml'), 'utf8').replace(/^# Drawn in this colour.*\ndisplay: .*\n/m, '');
    writeFileSync(join(user, 'transport/tcp.yaml'), tcp);
    useUserCatalog([user]);
    expect(scales()).toEqual({ colour: { scheme: 'tableau10' }, shape: { domain: ['ib-rdma', 'tcp'], range: ['circle', 'square'] } });
  });

  it('two transports of one colour, or of one shape, are rejected at the second', () => {
    // tcp.yaml line 16: `display: { colour: "#9d755d", shape: triangle-down }`, colour at column 12, shape at 12 + 19 = 31.
    const colour = models({ 'transport/efa-ucx.yaml': (t) => t.replace('"#b279a2"', '"#9d755d"') });
    expect(loadError(colour)).toMatch(/tcp\.yaml:16:12 display\.colour: transport 'efa-ucx' already has colour #9d755d; each transport needs its own/);
    const shape = models({ 'transport/efa-ucx.yaml': (t) => t.replace('shape: triangle-right', 'shape: triangle-down') });
    expect(loadError(shape)).toMatch(/tcp\.yaml:16:31 display\.shape: transport 'efa-ucx' already has shape 'triangle-down'; each transport needs its own/);
  });

  it('a colour must be #rrggbb in lowercase hex, a shape one Vega-Lite draws', () => {
    const upper = models({ 'transport/tcp.yaml': (t) => t.replace('"#9d755d"', '"#9D755D"') });
    expect(loadError(upper)).toMatch(/tcp\.yaml:16:12 display\.colour: expected a colour #rrggbb in lowercase hex/);
    const star = models({ 'transport/tcp.yaml': (t) => t.replace('shape: triangle-down', 'shape: star') });
    expect(loadError(star)).toMatch(/tcp\.yaml:16:31 display\.shape: expected one of 'circle', 'square', /);
  });
});

describe('connector profiles in release order (truth table, TP-matrix chart)', () => {
  it('the package profiles by their earliest release: 0.9.0, 0.9.1, 0.14.0, 0.22.0', () => {
    expect(connectorsByRelease(c)).toEqual(['equal-tp', 'decode-wider-tp', 'any-tp', 'any-tp-hardened']);
  });

  it('follows the records: a profile placing no release goes after the placed ones, unknown ids too, by id', () => {
    const unplaced = withRecords(c, { connectors: [without(c.connectors.get('equal-tp')!, 'vllmReleases')] });
    expect(connectorsByRelease(unplaced)).toEqual(['decode-wider-tp', 'any-tp', 'any-tp-hardened', 'equal-tp']);
    expect(connectorsByRelease(c, ['zz', 'any-tp-hardened', 'aa', 'equal-tp'])).toEqual(['equal-tp', 'any-tp-hardened', 'aa', 'zz']);
    const firstProfile = (cat: Catalog) => /^\| `([^`]+)` \| 1 \|/m.exec(truthTableMarkdown(cat, getLlm(cat, 'llama-3.1-70b-instruct-fp8')))?.[1];
    expect(firstProfile(c)).toBe('equal-tp');
    expect(firstProfile(unplaced)).toBe('decode-wider-tp');
  });
});
