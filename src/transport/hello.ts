import type { NodeId } from '../core/types.js';

/**
 * The first frame of every peer connection (etcd checks the cluster id on each peer
 * request; here it is checked once per connection). The receiver refuses a peer of
 * another cluster, and binds the connection to `from`: every later message on it must
 * say the same `from` (and, with TLS, that must be the certificate's node id).
 */
export interface PeerHello {
  readonly type: 'PeerHello';
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
}

/** Cluster ids are short printable tokens (hex digests by default). */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
