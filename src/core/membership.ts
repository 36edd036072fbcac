import type { ClusterConfig, MemberAddress, NodeId } from './types.js';

/**
 * Membership changes, one server at a time (Raft thesis §4.1, §4.2.1; etcd
 * confchange.Simple). A change is a log entry of kind ConfChange and takes effect
 * when it is applied, as in etcd: until then every node keeps the configuration of
 * the entries it has applied. One change may be pending at a time, so the old and
 * the new majority always overlap; a new leader proposes none before an entry of its
 * own term is applied (the fix for the single-server bug Ongaro posted to raft-dev
 * in 2015).
 */
export type ConfChange =
  /** The configuration of a brand-new cluster, written as entry 1 by every founding
   * node alike (etcd and hashicorp bootstrap the same way), so a node that joins
   * later learns it from the log. */
  | { readonly op: 'bootstrap'; readonly config: ClusterConfig }
  /** A learner receives the log but neither votes nor counts towards commit; it is
   * promoted by a later change, once it has caught up. */
  | { readonly op: 'add-learner'; readonly id: NodeId; readonly address: string }
  | { readonly op: 'add-voter'; readonly id: NodeId; readonly address: string }
  | { readonly op: 'promote'; readonly id: NodeId }
  | { readonly op: 'remove'; readonly id: NodeId };

export const EMPTY_CLUSTER_CONFIG: ClusterConfig = { voters: [], learners: [], addresses: [] };

export function isVoter(config: ClusterConfig, id: NodeId): boolean {
  return config.voters.includes(id);
}

export function isMemberOf(config: ClusterConfig, id: NodeId): boolean {
  return config.voters.includes(id) || config.learners.includes(id);
}

export function addressOf(config: ClusterConfig, id: NodeId): string | undefined {
  return config.addresses?.find((a) => a.id === id)?.address;
}

/** Why `change` cannot apply to `config`, or undefined when it can. */
export function checkConfChange(config: ClusterConfig, change: ConfChange): string | undefined {
  switch (change.op) {
    case 'bootstrap':
      return config.voters.length > 0 || config.learners.length > 0 ? 'the cluster is already bootstrapped' : undefined;
    case 'add-learner':
    case 'add-voter': {
      if (isMemberOf(config, change.id)) return `node ${change.id} is already a member`;
      const owner = config.addresses?.find((a) => a.address === change.address);
      if (owner !== undefined) return `address ${change.address} is already used by node ${owner.id}`;
      return undefined;
    }
    case 'promote':
      return config.learners.includes(change.id) ? undefined : `node ${change.id} is not a learner`;
    case 'remove':
      if (!isMemberOf(config, change.id)) return `node ${change.id} is not a member`;
      if (config.voters.length === 1 && config.voters[0] === change.id) return `node ${change.id} is the last voter`;
      return undefined;
    default: {
      const unreachable: never = change;
      return `unknown change ${JSON.stringify(unreachable)}`;
    }
  }
}

const sorted = (ids: Iterable<NodeId>): NodeId[] => [...ids].sort((a, b) => a - b);

/** The configuration after `change`; the caller checked it with checkConfChange. */
export function applyConfChange(config: ClusterConfig, change: ConfChange): ClusterConfig {
  const addresses = (extra?: MemberAddress): MemberAddress[] => {
    const list = [...(config.addresses ?? [])];
    if (extra !== undefined) list.push(extra);
    return list.sort((a, b) => a.id - b.id);
  };
  switch (change.op) {
    case 'bootstrap':
      return { voters: sorted(change.config.voters), learners: sorted(change.config.learners), addresses: [...(change.config.addresses ?? [])].sort((a, b) => a.id - b.id) };
    case 'add-learner':
      return { voters: config.voters, learners: sorted([...config.learners, change.id]), addresses: addresses({ id: change.id, address: change.address }) };
    case 'add-voter':
      return { voters: sorted([...config.voters, change.id]), learners: config.learners, addresses: addresses({ id: change.id, address: change.address }) };
    case 'promote':
      return { voters: sorted([...config.voters, change.id]), learners: config.learners.filter((id) => id !== change.id), addresses: addresses() };
    case 'remove':
      return {
        voters: config.voters.filter((id) => id !== change.id),
        learners: config.learners.filter((id) => id !== change.id),
        addresses: addresses().filter((a) => a.id !== change.id),
      };
    default: {
      const unreachable: never = change;
      throw new Error(`unknown change ${JSON.stringify(unreachable)}`);
    }
  }
}

export function encodeConfChange(change: ConfChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(change));
}

const isId = (value: unknown): value is NodeId => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
const isIdList = (value: unknown): value is NodeId[] => Array.isArray(value) && value.every(isId);

/** Decodes a ConfChange entry's data, or undefined when it is not one. */
export function decodeConfChange(data: Uint8Array): ConfChange | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  switch (v['op']) {
    case 'bootstrap': {
      const c = v['config'] as Record<string, unknown> | undefined;
      if (c === undefined || !isIdList(c['voters']) || !isIdList(c['learners'])) return undefined;
      const addresses = Array.isArray(c['addresses']) ? (c['addresses'] as unknown[]) : [];
      if (!addresses.every((a) => typeof a === 'object' && a !== null && isId((a as MemberAddress).id) && typeof (a as MemberAddress).address === 'string')) return undefined;
      return { op: 'bootstrap', config: { voters: c['voters'], learners: c['learners'], addresses: addresses as MemberAddress[] } };
    }
    case 'add-learner':
    case 'add-voter':
      return isId(v['id']) && typeof v['address'] === 'string' ? { op: v['op'], id: v['id'], address: v['address'] } : undefined;
    case 'promote':
    case 'remove':
      return isId(v['id']) ? { op: v['op'], id: v['id'] } : undefined;
    default:
      return undefined;
  }
}
