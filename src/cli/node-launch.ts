/**
 * The environment and Node.js options raft-node runs with. bin/raft-node.js carries
 * them on its first line (`#!/usr/bin/env -S NAME=value ... node ...`), so
 * `raft-node`, `npx raft-node` and the Procfiles get them; whatever starts
 * `node bin/raft-node.js` itself (LocalCluster) adds them from here. A test checks
 * that the two agree.
 *
 * `--max-semi-space-size=4` (MiB): under load V8 grows its young generation to two
 * 16 MiB semi-spaces and keeps them committed, about 30 MB of resident memory per
 * node for objects that live a few milliseconds (a request, a message, a Ready).
 * Capped at 4 MiB, a scavenge runs more often and costs little, since almost
 * nothing in the young generation is still alive; the soak (`npm run bench --
 * --soak`) measures the resident memory this saves.
 *
 * `--heap-growing-percent=100`: the old generation may grow to twice what survived
 * the last full collection before the next one, like Go's default GOGC=100 that etcd
 * runs with. V8 otherwise picks a factor of up to 4 when its collections are fast,
 * and a node's resident memory swung between 98 and 130 MB in a 3M-write soak; with
 * the factor fixed it stayed between 83 and 91 MB. The more frequent full
 * collections cost some throughput: the medians of a 3-round A/B were 4-8 % lower,
 * within what the benchmark machine's noise allows telling apart.
 */
export const RAFT_NODE_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=100'];

/**
 * glibc malloc settings (ignored by other C libraries). By default glibc raises its
 * mmap threshold each time a large block is freed, up to 32 MiB: after the first
 * snapshot's buffers (a megabyte or more) are freed, every buffer up to that size
 * comes from the main heap, which fragments and is not given back. A fixed 128 KiB
 * threshold keeps large buffers in their own mappings, returned on free; the 1M-write
 * soak ended at 105-118 MB per node with it and 114-134 MB without, at the same
 * throughput.
 */
export const RAFT_NODE_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};
