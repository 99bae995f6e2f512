/**
 * Dispatch policies: which worker loop gets the next accepted connection.
 *
 * A policy chooses among the coordinator's workers by reading what they
 * publish in shared memory (loop_stats.ts, the ring's depth) and what the
 * coordinator knows itself (connections handed over but not yet taken).
 * It never picks a worker that is not accepting (gone, draining, being
 * replaced); it returns null when none is.
 */

/** What a policy sees of one worker loop. */
export interface DispatchCandidate {
  /** False once the worker is gone, draining or being replaced. */
  readonly accepting: boolean;
  /** Connections it serves plus those handed to it and not yet taken. */
  load(): number;
  /** Its loop's p99 lag over the last window, in seconds. */
  lag(): number;
  /** Bytes waiting in its loop's ring. */
  ringDepth(): number;
}

export type PolicyName = 'round-robin' | 'least-connections' | 'least-loaded';

export const POLICIES: readonly PolicyName[] = ['round-robin', 'least-connections', 'least-loaded'];

export interface DispatchPolicy {
  /** The index in `candidates` of the worker to get the next connection, or -1 if none is accepting. */
  choose(candidates: readonly DispatchCandidate[]): number;
}

/** Each accepting worker in turn. */
export class RoundRobin implements DispatchPolicy {
  #next = 0;

  choose(candidates: readonly DispatchCandidate[]): number {
    const n = candidates.length;
    for (let step = 0; step < n; step++) {
      const i = (this.#next + step) % n;
      if (candidates[i]!.accepting) {
        this.#next = (i + 1) % n;
        return i;
      }
    }
    return -1;
  }
}

/**
 * The lowest score wins; ties go round-robin, so that equal workers share a
 * burst instead of the first one taking it all.
 */
abstract class LowestScore implements DispatchPolicy {
  #start = 0;

  protected abstract score(candidate: DispatchCandidate): number;

  choose(candidates: readonly DispatchCandidate[]): number {
    const n = candidates.length;
    let best = -1;
    let bestScore = Infinity;
    for (let step = 0; step < n; step++) {
      const i = (this.#start + step) % n;
      const candidate = candidates[i]!;
      if (!candidate.accepting) continue;
      const score = this.score(candidate);
      if (score < bestScore) {
        best = i;
        bestScore = score;
      }
    }
    if (best >= 0) this.#start = (best + 1) % n;
    return best;
  }
}

/** The worker with the fewest connections (served, or handed and not yet taken). */
export class LeastConnections extends LowestScore {
  protected score(candidate: DispatchCandidate): number {
    return candidate.load();
  }
}

/** Estimated seconds of queued work per byte waiting in a ring: a small record takes about this long to run. */
const SECONDS_PER_RING_BYTE = 1e-7;
/** Seconds each open connection counts for: breaks ties between idle loops, whose lags are all near zero. */
const SECONDS_PER_CONNECTION = 1e-5;

/**
 * The worker whose loop is least behind: its recent p99 lag, plus the work
 * waiting in its ring, plus a little per connection. Lag is sampled every
 * window, while connections count at once, so a burst still spreads
 * between two samples.
 */
export class LeastLoaded extends LowestScore {
  protected score(candidate: DispatchCandidate): number {
    return candidate.lag() + candidate.ringDepth() * SECONDS_PER_RING_BYTE + candidate.load() * SECONDS_PER_CONNECTION;
  }
}

/** The policy named `name` ('round-robin' when undefined); a RangeError naming `policy` otherwise. */
export function createPolicy(name: unknown = 'round-robin'): DispatchPolicy {
  switch (name) {
    case 'round-robin':
      return new RoundRobin();
    case 'least-connections':
      return new LeastConnections();
    case 'least-loaded':
      return new LeastLoaded();
    default:
      // A wrong type is a TypeError, a string that names no policy a RangeError (asyncio's ValueError).
      if (typeof name !== 'string') throw new TypeError(`policy must be one of ${POLICIES.map((p) => `'${p}'`).join(', ')}, not ${String(name)}`);
      throw new RangeError(`policy must be one of ${POLICIES.map((p) => `'${p}'`).join(', ')}, not ${JSON.stringify(name)}`);
  }
}
