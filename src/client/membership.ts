import type { NodeId } from '../core/types.js';
import type { MemberChangeResponse, MemberInfo } from '../protocol/client-messages.js';
import { ClientTimeoutError, MemberChangeRefusedError } from './errors.js';
import type { RaftClient } from './raft-client.js';

/**
 * A learner is promoted once it is at most this many entries behind the leader: well
 * under the leader's own limit (PROMOTE_LAG_ENTRIES_MAX), so the new voter can count
 * towards commit almost at once instead of slowing every write while it catches up.
 */
export const PROMOTE_CATCH_UP_LAG = 100;

/** How often the leader's member list is polled while a learner catches up. */
const CATCH_UP_POLL_MS = 100;

export type MemberConfiguration = Omit<MemberChangeResponse, 'type' | 'requestId'>;

export interface AddMemberOptions {
  readonly id: NodeId;
  /** Where the new node is reached, `host:port`. */
  readonly address: string;
  /** A joining node asking again: being a voter at that address already is success
   * (for `raft-cli member add` it is a refusal, like any id already present). */
  readonly rejoin?: boolean;
  /** Stop once it is a learner (no promotion). */
  readonly learnerOnly: boolean;
  /** The whole operation's budget, waiting for the catch-up included. */
  readonly deadlineMs: number;
  /** Told of each step (added, caught up, promoted) for logs or the terminal. */
  readonly onStep?: (step: 'learner-added' | 'caught-up' | 'promoted', detail: { index?: number; lag?: number; configuration?: MemberConfiguration }) => void;
  /** Called with the configuration right after the learner is added, before the
   * wait: a joining node seeds its peer links from it. */
  readonly onAdded?: (configuration: MemberConfiguration) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Adds a node the way etcd recommends: as a learner first (it cannot disturb the
 * quorum while it catches up), then promoted once within PROMOTE_CATCH_UP_LAG entries
 * of the leader. Asking again is safe: a node already a learner at that address is
 * answered without a new entry, and one already a voter is done.
 */
export async function addMember(client: RaftClient, options: AddMemberOptions): Promise<MemberConfiguration> {
  const deadline = Date.now() + options.deadlineMs;
  const remaining = (): number => Math.max(1, deadline - Date.now());
  const existing = options.rejoin === true ? await findMember(client, options.id, remaining()) : undefined;
  let added: MemberConfiguration;
  if (existing?.role === 'voter' && existing.address === options.address) {
    added = await configuration(client, remaining());
    options.onAdded?.(added);
    options.onStep?.('promoted', { configuration: added });
    return added;
  }
  added = await client.changeMember({ op: 'add-learner', id: options.id, address: options.address }, { deadlineMs: remaining() });
  options.onAdded?.(added);
  options.onStep?.('learner-added', { index: added.index, configuration: added });
  if (options.learnerOnly) return added;
  for (;;) {
    const member = await findMember(client, options.id, remaining());
    if (member?.role === 'voter') {
      const now = await configuration(client, remaining());
      options.onStep?.('promoted', { configuration: now });
      return now;
    }
    if (member !== undefined && member.match > 0 && member.lag <= PROMOTE_CATCH_UP_LAG) {
      options.onStep?.('caught-up', { lag: member.lag });
      try {
        const promoted = await client.changeMember({ op: 'promote', id: options.id }, { deadlineMs: remaining() });
        options.onStep?.('promoted', { index: promoted.index, configuration: promoted });
        return promoted;
      } catch (err) {
        // Fell behind again between the list and the promotion: wait and retry.
        if (!(err instanceof MemberChangeRefusedError && err.reason === 'LEARNER_BEHIND')) throw err;
      }
    }
    if (Date.now() >= deadline) {
      throw new ClientTimeoutError(`node ${options.id} was added as a learner but did not catch up within ${options.deadlineMs} ms (lag ${member?.lag ?? 'unknown'}); promote it later with raft-cli member promote ${options.id}`);
    }
    await sleep(Math.min(CATCH_UP_POLL_MS, remaining()));
  }
}

async function findMember(client: RaftClient, id: NodeId, deadlineMs: number): Promise<MemberInfo | undefined> {
  return (await client.members({ deadlineMs })).find((m) => m.id === id);
}

/** The configuration as the leader lists it, in the shape a change answers with. */
async function configuration(client: RaftClient, deadlineMs: number): Promise<MemberConfiguration> {
  const members = await client.members({ deadlineMs });
  return {
    index: 0,
    voters: members.filter((m) => m.role === 'voter').map((m) => m.id),
    learners: members.filter((m) => m.role === 'learner').map((m) => m.id),
    addresses: members.map((m) => ({ id: m.id, address: m.address })),
  };
}
