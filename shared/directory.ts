/**
 * This thread's directory of rings: one RingWriter per ring it writes to
 * (FIFO is per writer, so every LoopRef and every reply to the same ring
 * shares it), and the introductions that let a loop answer a caller it has
 * never heard of.
 *
 * A request names its reply ring by id only: shared memory cannot travel
 * inside a ring. Before a thread's first request to a loop, it posts its
 * reply ring on that loop's BroadcastChannel (`introduce`); the loop
 * listens there and parks any reply whose ring it does not know yet until
 * the introduction arrives (it was posted before the request was written,
 * so it is on its way).
 */
import { BroadcastChannel } from 'node:worker_threads';
import { Ring, type RingClosedError } from './ring.js';
import { RingWriter } from './ring_writer.js';

const writers = new Map<number, RingWriter>();
/** Introductions already posted from this thread: target ring ids, by reply ring id. */
const introduced = new Map<number, Set<number>>();

/** This thread's writer for `ring` (created on first use). */
export function writerFor(ring: Ring): RingWriter {
  let writer = writers.get(ring.id);
  if (writer === undefined) {
    writer = new RingWriter(ring, reportDiscard);
    writers.set(ring.id, writer);
  }
  return writer;
}

/** This thread's writer for the ring with `id`, if the thread has seen that ring. */
export function knownWriter(id: number): RingWriter | undefined {
  return writers.get(id);
}

/** Settles once every writer of this thread has written (or, for a closed ring, discarded and reported) its overflow queue. */
export function flushWriters(): Promise<void> {
  return Promise.all([...writers.values()].map((writer) => writer.flushed())).then(() => undefined);
}

/** Drops this thread's writer for a closed ring. */
export function forgetRing(id: number): void {
  writers.delete(id);
}

/** The BroadcastChannel name on which the consumer of ring `id` hears introductions. */
export function introductionChannel(id: number): string {
  return `multiloop.ring.${id}`;
}

/** An introduction: the ring that replies to this thread's requests go into. */
export interface Introduction {
  readonly buffer: SharedArrayBuffer;
}

/** Tells the consumer of `target` where to reply to requests from `replyRing` (once per pair). */
export function introduce(replyRing: Ring, target: Ring): void {
  let targets = introduced.get(replyRing.id);
  if (targets === undefined) introduced.set(replyRing.id, (targets = new Set()));
  if (targets.has(target.id)) return;
  targets.add(target.id);
  const channel = new BroadcastChannel(introductionChannel(target.id));
  channel.postMessage({ buffer: replyRing.buffer } satisfies Introduction);
  channel.close();
}

/** Records written with nowhere to go: the target closed while they waited in a writer's overflow queue. */
function reportDiscard(records: number, error: RingClosedError): void {
  process.emitWarning(`${records} cross-thread message(s) discarded: ${error.message}`, { type: 'MultiloopWarning' });
}
