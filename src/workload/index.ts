export type { RequestSource, RequestSpec } from './types.js';
export { ConversationSource, type Conversation, type FollowUp } from './conversations.js';
export { makeSource, type WorkloadLimits, type WorkloadRandom } from './sources.js';
export { checkMaxContext, drawLength, fitLengths, type FittedLengths } from './lengths.js';
export {
  MOONCAKE_BLOCK_TOKENS,
  TraceReader,
  displayPathOf,
  summariseTrace,
  type TraceFormat,
  type TraceReadStats,
  type TraceReaderOptions,
  type TraceRecord,
  type TraceSummary,
} from './traces.js';
