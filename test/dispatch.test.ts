/**
 * Dispatch policies on stand-in workers: which worker gets each new
 * connection. (Connections spread over real worker loops by each policy
 * are tested in coordinator.test.ts.)
 */
import test from 'ava';
import { createPolicy, LeastConnections, LeastLoaded, RoundRobin, type DispatchCandidate } from '../runtime/dispatch.js';

function worker(state: Partial<{ accepting: boolean; load: number; lag: number; ringDepth: number }> = {}): DispatchCandidate & { accepting: boolean; connections: number; lagSeconds: number; depth: number } {
  return {
    accepting: state.accepting ?? true,
    connections: state.load ?? 0,
    lagSeconds: state.lag ?? 0,
    depth: state.ringDepth ?? 0,
    load() {
      return this.connections;
    },
    lag() {
      return this.lagSeconds;
    },
    ringDepth() {
      return this.depth;
    },
  };
}

function picks(policy: { choose(c: readonly DispatchCandidate[]): number }, candidates: DispatchCandidate[], n: number): number[] {
  return Array.from({ length: n }, () => policy.choose(candidates));
}

test('round-robin takes each accepting worker in turn', (t) => {
  t.deepEqual(picks(new RoundRobin(), [worker(), worker(), worker()], 7), [0, 1, 2, 0, 1, 2, 0]);
});

test('round-robin skips a worker that is not accepting', (t) => {
  t.deepEqual(picks(new RoundRobin(), [worker(), worker({ accepting: false }), worker()], 4), [0, 2, 0, 2]);
});

test('every policy returns -1 when no worker is accepting', (t) => {
  for (const name of ['round-robin', 'least-connections', 'least-loaded']) {
    t.is(createPolicy(name).choose([worker({ accepting: false }), worker({ accepting: false })]), -1, name);
  }
});

test('least-connections picks the worker with the fewest connections', (t) => {
  t.is(new LeastConnections().choose([worker({ load: 5 }), worker({ load: 2 }), worker({ load: 3 })]), 1);
});

test('least-connections shares ties in turn instead of piling onto the first', (t) => {
  t.deepEqual(picks(new LeastConnections(), [worker(), worker(), worker()], 6), [0, 1, 2, 0, 1, 2]);
});

test('least-connections never picks a worker that is not accepting, however idle', (t) => {
  t.is(new LeastConnections().choose([worker({ accepting: false }), worker({ load: 9 })]), 1);
});

test('least-loaded avoids the loop with the highest lag', (t) => {
  t.is(new LeastLoaded().choose([worker({ lag: 0.05 }), worker({ lag: 0.001 })]), 1);
});

test('least-loaded avoids the loop with the deepest ring at equal lag', (t) => {
  t.is(new LeastLoaded().choose([worker({ ringDepth: 1 << 20 }), worker({ ringDepth: 0 })]), 1);
});

test('least-loaded spreads a burst between idle loops as their connections grow', (t) => {
  const candidates = [worker(), worker()];
  const policy = new LeastLoaded();
  for (let i = 0; i < 10; i++) {
    const chosen = candidates[policy.choose(candidates)] as ReturnType<typeof worker>;
    chosen.connections++;
  }
  t.deepEqual(candidates.map((c) => c.load()), [5, 5]);
});

test('createPolicy defaults to round-robin', (t) => {
  t.true(createPolicy() instanceof RoundRobin);
  t.true(createPolicy(undefined) instanceof RoundRobin);
});

test('createPolicy names the policy option in its RangeError', (t) => {
  const error = t.throws(() => createPolicy('random'), { instanceOf: RangeError });
  t.regex(error.message, /^policy must be one of 'round-robin', 'least-connections', 'least-loaded'/);
});
