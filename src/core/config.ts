import { ConfigError } from '../errors.js';
import type { NodeId } from './types.js';

/** Everything that tunes the protocol; validated once by validateCoreConfig. */
export interface CoreConfig {
  /** This node's id; one of `voters` unless the node joins an existing cluster. */
  readonly id: NodeId;
  /** The bootstrap voters, this node included: the configuration until a snapshot or
   * an applied membership entry says otherwise (those are the truth once they
   * exist). Empty for a node that joins an existing cluster and learns the
   * configuration from the leader. */
  readonly voters: readonly NodeId[];
  /** Election timeout base E in ticks; each timeout is drawn from [E, 2E) (Raft paper
   * §5.2). Must be greater than heartbeatTicks. Default 6. */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats. Default 1. */
  readonly heartbeatTicks: number;
  /** Run a PreVote round before a real election, so a node that was partitioned away
   * does not disrupt the cluster with a higher term when it returns (thesis §9.6). */
  readonly preVote: boolean;
  /** A leader steps down when it has not heard from a majority within an election
   * timeout, and followers that hear a live leader refuse votes (thesis §6.2, §9.6). */
  readonly checkQuorum: boolean;
  /** Appends in flight per follower in replicate state (etcd MaxInflightMsgs). */
  readonly inflightAppendsMax: number;
  /** Entry bytes per AppendRequest (etcd MaxSizePerMsg); one entry is always sent. */
  readonly appendBytesMax: number;
}

export const DEFAULT_CORE_CONFIG = {
  electionTicks: 6,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  inflightAppendsMax: 256,
  appendBytesMax: 1024 * 1024,
} as const;

/** Throws ConfigError with one sentence per broken rule (etcd Config.validate). */
export function validateCoreConfig(config: CoreConfig): void {
  if (!Number.isSafeInteger(config.id) || config.id <= 0) {
    throw new ConfigError(`node id must be a positive integer, got ${config.id}`);
  }
  if (config.voters.length > 0 && !config.voters.includes(config.id)) {
    throw new ConfigError(`node id ${config.id} is not in the peer list (${config.voters.join(', ')})`);
  }
  if (new Set(config.voters).size !== config.voters.length) {
    throw new ConfigError('peer ids must be unique');
  }
  if (!Number.isSafeInteger(config.heartbeatTicks) || config.heartbeatTicks < 1) {
    throw new ConfigError(`heartbeat ticks must be a positive integer, got ${config.heartbeatTicks}`);
  }
  if (!Number.isSafeInteger(config.electionTicks) || config.electionTicks <= config.heartbeatTicks) {
    throw new ConfigError(
      `election ticks (${config.electionTicks}) must be an integer greater than heartbeat ticks (${config.heartbeatTicks})`,
    );
  }
  if (!Number.isSafeInteger(config.inflightAppendsMax) || config.inflightAppendsMax < 1) {
    throw new ConfigError(`inflight appends max must be a positive integer, got ${config.inflightAppendsMax}`);
  }
  if (!Number.isSafeInteger(config.appendBytesMax) || config.appendBytesMax < 1) {
    throw new ConfigError(`append bytes max must be a positive integer, got ${config.appendBytesMax}`);
  }
}
