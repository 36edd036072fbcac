/**
 * The Node.js options raft-node runs with. bin/raft-node.js carries them on its
 * first line (`#!/usr/bin/env -S node ...`), so `raft-node`, `npx raft-node` and the
 * Procfiles get them; whatever starts `node bin/raft-node.js` itself (LocalCluster)
 * adds them from here. A test checks that the two agree.
 *
 * `--max-semi-space-size=4` (MiB): under load V8 grows its young generation to two
 * 16 MiB semi-spaces and keeps them committed, about 30 MB of resident memory per
 * node for objects that live a few milliseconds (a request, a message, a Ready).
 * Capped at 4 MiB, a scavenge runs more often and costs little, since almost
 * nothing in the young generation is still alive; the soak (`npm run bench --
 * --soak`) measures the resident memory this saves.
 */
export const RAFT_NODE_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4'];
