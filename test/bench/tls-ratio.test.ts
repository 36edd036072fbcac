// The pure parts of `npm run bench -- --tls`: its one flag, the alternating order of
// the rounds, the medians and their ratio, and the summary line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { roundSchedule, tlsRatio, tlsSettingsFrom, tlsSummary } from '../../bench/tls-ratio.js';
import type { TlsResult } from '../../bench/tls-ratio.js';

describe('tlsSettingsFrom', () => {
  it('takes 2 to 20 rounds of each mode, always 3 nodes at 64 in flight', () => {
    assert.deepEqual(tlsSettingsFrom({ tlsRounds: '3' }), { nodes: 3, inflight: 64, roundsPerMode: 3 });
    assert.equal(tlsSettingsFrom({ tlsRounds: '2' }).roundsPerMode, 2);
    assert.equal(tlsSettingsFrom({ tlsRounds: '20' }).roundsPerMode, 20);
  });

  it('refuses one round (no median to speak of), fractions and words, naming the flag', () => {
    for (const bad of ['1', '0', '2.5', 'x', '', '21']) assert.throws(() => tlsSettingsFrom({ tlsRounds: bad }), /--tls-rounds must be an integer from 2 to 20/);
  });
});

describe('roundSchedule', () => {
  it('starts with plaintext and alternates', () => {
    assert.deepEqual(roundSchedule(2), ['plaintext', 'tls', 'plaintext', 'tls']);
    assert.deepEqual(roundSchedule(3), ['plaintext', 'tls', 'plaintext', 'tls', 'plaintext', 'tls']);
  });
});

describe('tlsRatio', () => {
  it('divides the median of the TLS rounds by the median of the plaintext rounds', () => {
    const rounds = [
      { mode: 'plaintext' as const, opsPerSec: 5000 },
      { mode: 'tls' as const, opsPerSec: 4000 },
      { mode: 'plaintext' as const, opsPerSec: 1000 }, // a disturbed round: the median ignores it
      { mode: 'tls' as const, opsPerSec: 4200 },
      { mode: 'plaintext' as const, opsPerSec: 5200 },
      { mode: 'tls' as const, opsPerSec: 100 },
    ];
    assert.deepEqual(tlsRatio(rounds), { plaintextOpsPerSec: 5000, tlsOpsPerSec: 4000, ratio: 0.8 });
  });

  it('takes the mean of the middle two for an even count and rounds the ratio to 3 decimals', () => {
    const rounds = [
      { mode: 'plaintext' as const, opsPerSec: 3000 },
      { mode: 'tls' as const, opsPerSec: 2000 },
      { mode: 'plaintext' as const, opsPerSec: 3000 },
      { mode: 'tls' as const, opsPerSec: 2001 },
    ];
    assert.deepEqual(tlsRatio(rounds), { plaintextOpsPerSec: 3000, tlsOpsPerSec: 2000.5, ratio: 0.667 });
  });

  it('gives ratio 0 rather than Infinity or NaN when plaintext acknowledged nothing', () => {
    assert.equal(tlsRatio([{ mode: 'plaintext', opsPerSec: 0 }, { mode: 'tls', opsPerSec: 10 }]).ratio, 0);
    assert.equal(tlsRatio([]).ratio, 0);
  });
});

describe('tlsSummary', () => {
  it('is one line with both medians, the ratio against the target and every round', () => {
    const cpu = { loadProcessPercent: 0, nodesPercent: {} };
    const result: TlsResult = {
      nodes: 3, inflight: 64, seconds: 5, plaintextOpsPerSec: 5000, tlsOpsPerSec: 3000, ratio: 0.6, target: 0.7, note: '',
      rounds: [
        { round: 1, mode: 'plaintext', opsPerSec: 5000, p50Ms: 10, p99Ms: 20, errors: 0, cpu },
        { round: 2, mode: 'tls', opsPerSec: 3000, p50Ms: 15, p99Ms: 30, errors: 0, cpu },
      ],
    };
    const line = tlsSummary(result);
    assert.equal(line.split('\n').length, 2);
    assert.match(line, /^tls: 3000 writes\/s with TLS vs 5000 plaintext .* ratio 0\.6 \(target >= 0\.7 MISSED\); rounds: plaintext 5000, tls 3000\n$/);
  });
});
