/**
 * `--vllm <version>`, the alternative to `--connector <profile>`: the release resolves to its profile through the
 * catalog's release table (src/catalog/vllm.ts). Both given: they must name the same profile.
 */
import type { Catalog, ConnectorProfile } from '../catalog/index.js';
import { getConnector } from '../catalog/index.js';
import { releaseProfile, resolveVllm } from '../catalog/vllm.js';
import { UserError } from '../errors.js';
import { forFlag } from './options.js';

export const VLLM_OPTION = {
  type: 'string',
  requiresArg: true,
  describe: 'a vLLM release (e.g. 0.10.1) instead of --connector: its connector profile from the release table (nixlsim list connectors)',
} as const;

/**
 * The profile the flags name: --connector's, --vllm's (with that release's expiry where it differs), or `fallback`'s
 * when neither is given (undefined: one of them is required). Exit 2 on an unknown version or a disagreement.
 */
export function connectorFromFlags(c: Catalog, connector: string | undefined, vllm: string | undefined, fallback?: string): ConnectorProfile {
  if (vllm === undefined) {
    const id = connector ?? fallback;
    if (id === undefined) throw new UserError('give --connector <profile> or --vllm <release> (nixlsim list connectors)');
    return forFlag('connector', id, () => getConnector(c, id));
  }
  const r = forFlag('vllm', vllm, () => resolveVllm(c, vllm));
  if (connector !== undefined && connector !== r.profile.id) {
    throw new UserError(`--vllm ${vllm} is connector profile '${r.profile.id}' (${r.release.versions}), not --connector '${connector}': give one of them, or make them agree`);
  }
  return releaseProfile(r);
}
