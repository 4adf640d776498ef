/**
 * vLLM release -> connector profile: which profile (models/connector/) a release's NixlConnector behaves as, from the
 * `vllmReleases` ranges the profiles carry, each with its source. A user may say `--vllm 0.10.1` (or `deployment.vllm`)
 * instead of naming a profile; a release the table does not place is a mistake naming the ranges it knows.
 */
import { UserError } from '../errors.js';
import { compareVersions } from './schema.js';
import type { Catalog, ConnectorProfile, ExpiryModel, VllmRelease } from '../spec/catalog.js';

/** One range of the table: [lo, hi) over release versions, the profile and the range's own record. */
export interface ReleaseRange {
  lo: string;
  /** Exclusive; undefined: open-ended. */
  hi?: string;
  profile: ConnectorProfile;
  release: VllmRelease;
}

/** What a release resolves to: the profile, and the expiry its builds have where it differs from the profile's. */
export interface ResolvedRelease {
  version: string;
  profile: ConnectorProfile;
  /** The release range's expiry, when it states one; undefined: the profile's. */
  expiry?: ExpiryModel;
  release: VllmRelease;
}

/** A release as users write it: 0.10.1, v0.10.1, or a post release such as 0.10.1.1. */
const VERSION = /^v?(\d+\.\d+\.\d+)(\.\d+)?$/;

/** The table, ordered by lower bound. Throws UserError when two profiles claim one release. */
export function releaseTable(catalog: Catalog): ReleaseRange[] {
  const out: ReleaseRange[] = [];
  for (const profile of catalog.connectors.values()) {
    for (const release of profile.vllmReleases ?? []) {
      const [lo, hi] = release.versions.split(' ').map((v) => v.replace(/^[<>]=?/, ''));
      out.push({ lo: lo ?? '0.0.0', ...(hi !== undefined ? { hi } : {}), profile, release });
    }
  }
  out.sort((a, b) => compareVersions(a.lo, b.lo));
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1]!;
    const cur = out[i]!;
    if (prev.hi === undefined || compareVersions(cur.lo, prev.hi) < 0) {
      throw new UserError(
        `vLLM release ranges overlap: '${prev.release.versions}' of connector '${prev.profile.id}' and '${cur.release.versions}' of '${cur.profile.id}'; a release must place one profile`,
      );
    }
  }
  return out;
}

/** `>=0.9.0 <0.9.1 equal-tp, ...`: the ranges a message names. */
export function describeReleaseTable(table: readonly ReleaseRange[]): string {
  return table.map((r) => `${r.release.versions} ${r.profile.id}`).join(', ');
}

/** The version compared against the ranges: a post release 0.10.1.1 falls where 0.10.1 does. */
function parseVersion(version: string): string | undefined {
  const m = VERSION.exec(version.trim());
  return m ? m[1] : undefined;
}

/**
 * The connector profile of a vLLM release. Throws UserError for a version it cannot read (naming the form expected)
 * or one no range places (naming the ranges known, and --connector as the way to name a profile directly).
 */
export function resolveVllm(catalog: Catalog, version: string): ResolvedRelease {
  const table = releaseTable(catalog);
  const known = `known releases: ${describeReleaseTable(table)}`;
  const v = parseVersion(version);
  if (v === undefined) {
    throw new UserError(
      `vLLM version '${version}' is not a release version; expected major.minor.patch such as 0.10.1 (a development build such as 0.1.dev1+g2b51d23f6 cannot be placed: name its connector profile instead); ${known}`,
    );
  }
  const hit = table.find((r) => compareVersions(v, r.lo) >= 0 && (r.hi === undefined || compareVersions(v, r.hi) < 0));
  if (!hit) throw new UserError(`vLLM ${version} is not in the connector release table (${known}); name a connector profile instead`);
  return { version, profile: hit.profile, ...(hit.release.expiry ? { expiry: hit.release.expiry } : {}), release: hit.release };
}

/** The profile as a release's builds behave: the range's expiry over the profile's. */
export function releaseProfile(r: ResolvedRelease): ConnectorProfile {
  return r.expiry === undefined ? r.profile : { ...r.profile, expiry: r.expiry };
}

/**
 * vLLM's original VLLM_NIXL_ABORT_REQUEST_TIMEOUT, seconds: the abort timeout of the earliest release the catalog's
 * profiles place (the first NixlConnector builds; 120 s until vllm-project/vllm#25897, as the profile's source says).
 * The reference line of the transfer charts and the `transfer` command's default.
 */
export function originalAbortTimeoutS(catalog: Catalog): number {
  const first = releaseTable(catalog)[0];
  if (first === undefined) throw new UserError('no connector profile places a vLLM release (vllmReleases): the original abort timeout is unknown');
  const e = first.release.expiry ?? first.profile.expiry;
  if (e.kind !== 'abort-timeout') {
    throw new UserError(`the earliest vLLM release range ('${first.release.versions}' of connector '${first.profile.id}') has no abort timeout but a ${e.kind}`);
  }
  return e.timeoutS;
}

/**
 * Connector profile ids in the order vLLM grew them: by the earliest release each profile places (its vllmReleases),
 * then those placing none, by id. The order of the truth table and the TP-matrix chart, read from the records rather
 * than a list of ids; `ids` (default: the catalog's) may name profiles the catalog lacks, which go with the unplaced.
 */
export function connectorsByRelease(catalog: Catalog, ids: Iterable<string> = catalog.connectors.keys()): string[] {
  const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const earliest = (id: string): string | undefined =>
    (catalog.connectors.get(id)?.vllmReleases ?? []).map((r) => r.versions.split(' ')[0]!.replace(/^>=/, '')).sort(compareVersions)[0];
  const all = [...new Set(ids)].map((id) => ({ id, lo: earliest(id) }));
  const placed = all.flatMap((x) => (x.lo === undefined ? [] : [{ id: x.id, lo: x.lo }])).sort((a, b) => compareVersions(a.lo, b.lo) || byId(a.id, b.id));
  const unplaced = all.filter((x) => x.lo === undefined).map((x) => x.id).sort(byId);
  return [...placed.map((x) => x.id), ...unplaced];
}
