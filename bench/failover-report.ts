/**
 * The human-readable summary of the availability phases (SIGKILL failover, SIGTERM of
 * the leader, rolling restart) that `npm run bench` prints on stderr after its JSON.
 */
import type { ClusterResult } from './cluster-run.js';

type Figures = Pick<ClusterResult, 'nodes' | 'failover' | 'leaderStops' | 'rollingRestart'>;

const ms = (value: number): string => `${Math.round(value)} ms`;

/** One line per phase that ran, per cluster size; empty when none ran. */
export function availabilitySummary(results: readonly Figures[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const head = `bench: ${r.nodes} nodes:`;
    if (r.failover !== null) {
      const f = r.failover;
      lines.push(`${head} SIGKILL of the leader (${f.kills.length}x): first write acked after the kill median ${ms(f.nextWriteAckMs.median)}, max ${ms(f.nextWriteAckMs.max)}; new leader known median ${ms(f.leaderKnownMs.median)}, max ${ms(f.leaderKnownMs.max)}; failed writes ${f.trickle.failed}`);
    }
    if (r.leaderStops !== null) {
      const s = r.leaderStops;
      lines.push(`${head} SIGTERM of the leader (${s.stops.length}x): largest gap between acknowledged writes median ${ms(s.largestWriteGapMs.median)}, max ${ms(s.largestWriteGapMs.max)}; new leader known median ${ms(s.leaderKnownMs.median)}, max ${ms(s.leaderKnownMs.max)}; failed writes ${s.failedWrites}`);
    }
    if (r.rollingRestart !== null) {
      const rr = r.rollingRestart;
      lines.push(`${head} rolling restart (SIGTERM, restart, catch up: ${rr.order.join(', ')}): largest gap between acknowledged writes ${ms(rr.largestWriteGapMs)}; failed writes ${rr.failedWrites}; total ${(rr.totalMs / 1000).toFixed(1)} s`);
    }
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
