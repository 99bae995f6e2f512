/** Data shared by the ring tests and their producer threads. */

/** The filler of record `seq` of `producer`: length 0 .. 3 rings, bytes derived from (producer, seq, index). */
export function fillerFor(producer: number, seq: number, capacity: number): Uint8Array {
  const length = (seq * 7919 + producer * 104729) % (3 * capacity);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i + seq + producer) & 0xff;
  return bytes;
}

export interface ProducerJob {
  buffer: SharedArrayBuffer;
  producer: number;
  count: number;
  /** Block on a full ring (as an executor thread may) or spill (as a loop thread must). */
  mayBlock: boolean;
  /** Append `fillerFor(producer, seq)` to each record. */
  filler: boolean;
}

/** What a producer thread posts when it ends. */
export type ProducerReport = { done: true; spilled: number } | { error: string } | { discarded: number; error: string };
