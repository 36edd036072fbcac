import type { StateMachine } from '../../src/kv/state-machine.js';

/** The whole snapshot of `machine` now, its chunks concatenated; the view is released. */
export function snapshotBytes(machine: StateMachine<unknown>): Uint8Array {
  const view = machine.snapshot();
  try {
    return Buffer.concat([...view.chunks()]);
  } finally {
    view.release();
  }
}
