import type { Argv, CommandModule } from 'yargs';
import { defaultCatalog, getLlm } from '../../catalog/index.js';
import { UserError } from '../../errors.js';
import { handshakeMatrix, handshakeVerdict } from '../../nixl/index.js';
import { matrixText } from '../../report/truth-table.js';
import { kvHeadsPerRank } from '../../physics/index.js';
import { forFlag, wholeNumber } from '../options.js';
import { LIMITS } from '../../experiment/schema.js';
import { connectorFromFlags, VLLM_OPTION } from '../vllm-option.js';

interface Args {
  prefillTp?: number;
  decodeTp?: number;
  connector?: string;
  vllm?: string;
  prefillBlockSize: number;
  decodeBlockSize: number;
  model: string;
  matrix: boolean;
  json: boolean;
}

export const handshakeCommand: CommandModule<object, Args> = {
  command: 'handshake',
  describe: 'Whether a vLLM build accepts, rejects or crashes on a prefill/decode TP pair (--matrix: all of 1, 2, 4, 8)',
  builder: (y) =>
    y
      .option('prefill-tp', { requiresArg: true, describe: 'prefill worker tensor parallel size', coerce: wholeNumber('prefill-tp', 1, LIMITS.tp.max) })
      .option('decode-tp', { requiresArg: true, describe: 'decode worker tensor parallel size', coerce: wholeNumber('decode-tp', 1, LIMITS.tp.max) })
      .option('connector', { type: 'string', requiresArg: true, describe: 'connector profile: equal-tp, decode-wider-tp, any-tp, any-tp-hardened (or --vllm)' })
      .option('vllm', VLLM_OPTION)
      .option('prefill-block-size', { default: 16, requiresArg: true, describe: 'prefill KV block size, tokens', coerce: wholeNumber('prefill-block-size', 1) })
      .option('decode-block-size', { default: 16, requiresArg: true, describe: 'decode KV block size, tokens', coerce: wholeNumber('decode-block-size', 1) })
      .option('model', { type: 'string', default: 'llama-3.1-70b-instruct-fp8', describe: 'model id (seed 003 used this one)' })
      .option('matrix', { type: 'boolean', default: false, describe: 'every pair of TP in {1, 2, 4, 8}' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<Args>,
  handler: (a) => {
    const c = defaultCatalog();
    const profile = connectorFromFlags(c, a.connector, a.vllm);
    const llm = forFlag('model', a.model, () => getLlm(c, a.model));
    const blocks = { prefill: a.prefillBlockSize, decode: a.decodeBlockSize };
    if (a.matrix) {
      const cells = handshakeMatrix(profile, llm, [1, 2, 4, 8], blocks);
      if (a.json) {
        console.log(JSON.stringify(cells.map(({ prefillTp, decodeTp, verdict }) => ({ prefillTp, decodeTp, ...publicVerdict(verdict) }))));
      } else {
        console.log(`${profile.id}: ${profile.name}\n${llm.id}, block sizes prefill ${blocks.prefill} / decode ${blocks.decode}\n`);
        console.log(matrixText(cells));
      }
      return;
    }
    if (a.prefillTp === undefined || a.decodeTp === undefined) {
      throw new UserError('give --prefill-tp and --decode-tp, or --matrix');
    }
    // A TP that cannot split the model's KV heads is a mistake in the flag, not a build's verdict.
    forFlag('prefill-tp', a.prefillTp, () => kvHeadsPerRank(llm, a.prefillTp!));
    forFlag('decode-tp', a.decodeTp, () => kvHeadsPerRank(llm, a.decodeTp!));
    const v = handshakeVerdict(profile, {
      prefillTp: a.prefillTp,
      decodeTp: a.decodeTp,
      prefillBlockSize: blocks.prefill,
      decodeBlockSize: blocks.decode,
      llm,
    });
    if (a.json) {
      console.log(JSON.stringify(publicVerdict(v)));
      return;
    }
    const lines = [
      `${profile.id}: prefill TP${a.prefillTp} -> decode TP${a.decodeTp}, ${llm.id}, block sizes ${blocks.prefill}/${blocks.decode}`,
      `outcome    ${v.outcome}${v.stage ? ` at ${v.stage}` : ''}`,
      `message    ${v.message}`,
    ];
    if (v.outcome === 'ok') {
      lines.push(`reads      ${v.readsPerRequest} per request`);
      v.targetRanks.forEach((t, d) => lines.push(`  decode rank ${d} <- prefill rank${t.length > 1 ? 's' : ''} ${t.join(', ')}`));
    }
    console.log(lines.join('\n'));
  },
};

/** The JSON contract: outcome, stage, error, message, targetRanks, readsPerRequest. */
function publicVerdict(v: ReturnType<typeof handshakeVerdict>) {
  return { outcome: v.outcome, stage: v.stage, error: v.error, message: v.message, targetRanks: v.targetRanks, readsPerRequest: v.readsPerRequest };
}
