export * from './types.js';
export * from './messages.js';
export * from './config.js';
export * from './random.js';
export * from './ready.js';
export * from './logger.js';
export { RaftCore } from './raft-core.js';
export type { CoreDeps, CoreInitialState, CoreStatus, PeerStatus, StepResult } from './raft-core.js';
export { majority, quorumMatchIndex, voteOutcome } from './quorum.js';
