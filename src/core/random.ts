/**
 * The core's only source of randomness (the election timeout draw), injected so a
 * seed fixes every run (simulator, tests). Production seeds it from the node id and
 * the clock; the core never calls Math.random.
 */
export interface Random {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/**
 * SplitMix32-style generator: tiny, fast, good enough statistical quality for
 * timeouts and fault schedules, and identical on every platform.
 */
export class SeededRandom implements Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  nextInt(maxExclusive: number): number {
    if (!(maxExclusive > 0)) throw new RangeError(`maxExclusive must be positive, got ${maxExclusive}`);
    return Math.floor((this.nextUint32() / 0x1_0000_0000) * maxExclusive);
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }
}
