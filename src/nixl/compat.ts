import type { ConnectorError, ConnectorProfile, LlmSpec } from '../spec/catalog.js';
import { UserError } from '../errors.js';
import { kvHeadsPerRank, targetRanks } from '../physics/index.js';

/**
 * Whether a vLLM build's NixlConnector accepts a prefill/decode pairing, and how it goes wrong when it does not.
 * Pure: the simulation's handshake (connector.ts), the `handshake` command and the README truth table all ask this.
 *
 * Order follows the code paths upstream: the TP divisibility check and the TP-direction handling run before the block
 * size checks (the ZeroDivisionError of seed 003 happens before add_remote_agent ever looks at block sizes).
 */
export interface PairQuery {
  prefillTp: number;
  decodeTp: number;
  prefillBlockSize?: number;
  decodeBlockSize?: number;
  /** The decode engine's model. */
  llm: LlmSpec;
  /** The prefill engine's model, when it differs (a compatibility-hash mismatch). */
  prefillLlm?: LlmSpec;
  /** The prefill engine's connector profile, when it differs from decode's (another vLLM build). */
  prefillProfile?: ConnectorProfile;
  /** Used in error texts. */
  engineId?: string;
}

export type Outcome = 'ok' | 'rejected' | 'crash';

export interface HandshakeVerdict {
  outcome: Outcome;
  /** Where it goes wrong: the handshake itself, or (crash) the first transfer's get_finished(); null when ok. */
  stage: 'handshake' | 'first-transfer' | null;
  /** Exception type as the build logs it, e.g. 'KeyError'; null when ok. */
  error: string | null;
  message: string;
  /** For a crash: the error inside the handshake that left the engine unregistered. */
  handshakeError?: string;
  /** For each decode rank, the prefill ranks it reads. */
  targetRanks: number[][];
  readsPerRequest: number;
}

/** The compatibility hash both sides compare: model shape, KV dtype and the connector build. */
export function compatHash(llm: LlmSpec, profile: ConnectorProfile): string {
  return [profile.id, llm.id, llm.kvDtype, llm.kvHeads, llm.headDim, llm.layers, llm.attention].join('|');
}

export function fillMessage(e: ConnectorError, vars: Record<string, string | number>): string {
  return e.message.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

/**
 * An error text the profile must carry for a behaviour it has (the catalog requires it where the profile's own
 * behaviour needs it; an experiment's connectorOverrides may ask for one a user catalog's profile lacks).
 */
export function requiredError(profile: ConnectorProfile, key: keyof ConnectorProfile['errors'], because: string): ConnectorError {
  const e = profile.errors[key];
  if (e === undefined) {
    throw new UserError(`connector profile '${profile.id}' has no errors.${key}, which it needs because ${because} (add it to its models/connector/ record)`);
  }
  return e;
}

/** What get_finished() raises, killing the engine, for `engineId` whose handshake failed before it was registered. */
export function engineUnregisteredText(profile: ConnectorProfile, engineId: string): string {
  const e =
    profile.errors.engineUnregistered ??
    (profile.tp.prefillWider === 'crash' ? profile.errors.prefillWiderFirstTransfer : undefined) ??
    requiredError(profile, 'engineUnregistered', `handshake.onFailure is '${profile.handshake.onFailure}'`);
  return `${e.error}: ${fillMessage(e, { engineId })}`;
}

export function handshakeVerdict(profile: ConnectorProfile, q: PairQuery): HandshakeVerdict {
  const p = q.prefillTp;
  const d = q.decodeTp;
  const pb = q.prefillBlockSize ?? 16;
  const db = q.decodeBlockSize ?? 16;
  for (const [name, v] of [['prefill TP', p], ['decode TP', d], ['prefill block size', pb], ['decode block size', db]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`${name} must be a whole number >= 1, got ${v}`);
  }
  // A TP the model cannot run at is a deployment mistake, not a connector outcome.
  kvHeadsPerRank(q.llm, p);
  kvHeadsPerRank(q.llm, d);
  const vars = { prefillTp: p, decodeTp: d, prefillBlockSize: pb, decodeBlockSize: db, engineId: q.engineId ?? 'prefill-0' };
  const fail = (outcome: Outcome, e: ConnectorError, stage: 'handshake' | 'first-transfer' = 'handshake'): HandshakeVerdict => ({
    outcome,
    stage,
    error: e.error,
    message: `${e.error}: ${fillMessage(e, vars)}`,
    targetRanks: [],
    readsPerRequest: 0,
  });

  if (Math.max(p, d) % Math.min(p, d) !== 0) return fail('rejected', profile.errors.tpNotDivisible);

  const prefillProfile = q.prefillProfile ?? profile;
  const prefillLlm = q.prefillLlm ?? q.llm;
  if (compatHash(prefillLlm, prefillProfile) !== compatHash(q.llm, profile)) {
    return fail('rejected', profile.errors.compatHashMismatch);
  }

  if (d > p && profile.tp.decodeWider !== 'ok') {
    return fail('rejected', profile.errors.decodeWiderRejected ?? profile.errors.tpNotDivisible);
  }
  if (p > d) {
    const support = profile.tp.prefillWider;
    if (support === 'rejected') return fail('rejected', profile.errors.prefillWiderRejected ?? profile.errors.tpNotDivisible);
    if (support === 'crash') {
      // The catalog's profiles carry these texts even where they do not crash, for experiments overriding them to.
      const inner = requiredError(profile, 'prefillWiderHandshake', "tp.prefillWider is 'crash'");
      const outer = requiredError(profile, 'prefillWiderFirstTransfer', "tp.prefillWider is 'crash'");
      const v = fail('crash', outer, 'first-transfer');
      v.handshakeError = `${inner.error}: ${fillMessage(inner, vars)}`;
      v.message =
        `${v.handshakeError} inside the handshake, so the prefill engine is never registered; ` +
        `the first get_finished() then raises ${outer.error}: ${fillMessage(outer, vars)}`;
      return v;
    }
  }

  if (profile.blockSize.rule === 'equal-only') {
    if (pb !== db) return fail('rejected', profile.errors.blockSizeMismatch);
  } else {
    if (db < pb || db % pb !== 0) return fail('rejected', profile.errors.blockSizeMismatch);
    if (p > d && profile.blockSize.equalWhenPrefillWider && pb !== db) {
      return fail('rejected', profile.errors.blockSizePrefillWider ?? profile.errors.blockSizeMismatch);
    }
  }

  const mla = q.llm.attention === 'mla';
  const targets = Array.from({ length: d }, (_, r) => targetRanks(r, p, d, mla));
  const reads = targets.reduce((n, t) => n + t.length, 0);
  return {
    outcome: 'ok',
    stage: null,
    error: null,
    message: `handshake succeeds: tp_ratio ${d >= p ? d / p : -(p / d)}, ${reads} READ(s) per request`,
    targetRanks: targets,
    readsPerRequest: reads,
  };
}

/** The outcome for every (prefill TP, decode TP) pair of `tps`, rows by prefill TP. */
export function handshakeMatrix(
  profile: ConnectorProfile,
  llm: LlmSpec,
  tps: readonly number[] = [1, 2, 4, 8],
  blockSizes: { prefill: number; decode: number } = { prefill: 16, decode: 16 },
): { prefillTp: number; decodeTp: number; verdict: HandshakeVerdict }[] {
  const out: { prefillTp: number; decodeTp: number; verdict: HandshakeVerdict }[] = [];
  for (const p of tps) {
    for (const d of tps) {
      out.push({
        prefillTp: p,
        decodeTp: d,
        verdict: handshakeVerdict(profile, { prefillTp: p, decodeTp: d, llm, prefillBlockSize: blockSizes.prefill, decodeBlockSize: blockSizes.decode }),
      });
    }
  }
  return out;
}
