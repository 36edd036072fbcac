import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { NodeId } from '../core/types.js';
import { ConfigError, CorruptLogError } from '../errors.js';
import { CLUSTER_ID_PATTERN } from '../transport/hello.js';
import { writeSmallFileDurably } from './small-file.js';

/** The file in a data dir that holds the cluster id, beside the WAL. */
export const CLUSTER_ID_FILE = 'cluster-id';

/**
 * The id every member of a new cluster computes alike from a token (etcd's
 * `--initial-cluster-token`) and its initial member ids. Addresses are left out on
 * purpose: `--peers` says where each node dials, which differs from node to node
 * behind proxies or NAT. Clusters that could reach each other's addresses must
 * therefore be bootstrapped with different tokens (or explicit ids), as in etcd.
 */
export function deriveClusterId(token: string, members: Iterable<NodeId>): string {
  const ids = [...members].sort((a, b) => a - b);
  return createHash('sha256').update(`raft-ts cluster\n${token}\n${ids.join(',')}`).digest('hex').slice(0, 16);
}

export interface ClusterIdResult {
  readonly clusterId: string;
  /** True when this call wrote the file (a fresh data dir). */
  readonly created: boolean;
}

/**
 * The data dir's cluster id: read from its file, or, when there is none, `proposed`
 * written atomically (temporary file, fsync, rename, fsync of the directory) so a
 * crash leaves either no file or the whole id. Once written it never changes: later
 * changes of --peers do not make a node join another cluster.
 *
 * @throws ConfigError when `required` is given and differs from the stored id.
 * @throws CorruptLogError when the file exists but does not hold an id.
 */
export async function loadOrCreateClusterId(dataDir: string, proposed: string, required?: string): Promise<ClusterIdResult> {
  const file = path.join(dataDir, CLUSTER_ID_FILE);
  let stored: string | undefined;
  try {
    stored = (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (stored !== undefined) {
    if (!CLUSTER_ID_PATTERN.test(stored)) throw new CorruptLogError(`${file} does not hold a cluster id`);
    if (required !== undefined && required !== stored) {
      throw new ConfigError(`--cluster-id ${required} differs from ${stored}, the id of the cluster this data dir belongs to`);
    }
    return { clusterId: stored, created: false };
  }
  const clusterId = required ?? proposed;
  if (!CLUSTER_ID_PATTERN.test(clusterId)) throw new ConfigError(`cluster id "${clusterId}" must be 1-64 of A-Z a-z 0-9 . _ -`);
  await writeSmallFileDurably(file, `${clusterId}\n`);
  return { clusterId, created: true };
}
