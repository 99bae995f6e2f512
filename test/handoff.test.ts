/**
 * Hand-off primitives: the coordinator's queue of fds handed to a worker,
 * and the worker's side that wraps a handed fd. (Hand-offs through real
 * worker loops, and fd leaks after thousands of them, are tested in
 * coordinator.test.ts.)
 */
import fs from 'node:fs';
import type net from 'node:net';
import test from 'ava';
import { native } from '../native/index.js';
import { LoopRef } from '../shared/loopref.js';
import { Ring } from '../shared/ring.js';
import { HandoffQueue, takeHandoff } from '../runtime/handoff.js';
import { LoopStats } from '../runtime/loop_stats.js';

const C = native.constants;

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** A queue whose worker never runs: its ring just fills with the hand-off records. */
function queue(): { handoff: HandoffQueue; stats: LoopStats; ring: Ring } {
  const ring = Ring.create(1 << 16);
  const stats = LoopStats.create();
  return { handoff: new HandoffQueue(LoopRef.from({ buffer: ring.buffer }), stats), stats, ring };
}

test('reclaim closes exactly the fds the worker never took', (t) => {
  const { handoff, stats } = queue();
  const pairs = [0, 1, 2].map(() => native.socketpair(C.AF_UNIX, C.SOCK_STREAM, 0));
  for (const [fd] of pairs) handoff.hand(1, fd, C.AF_UNIX);
  stats.handoffTaken();
  t.is(handoff.inFlight(), 2);
  t.is(handoff.reclaim(), 2);
  t.deepEqual(pairs.map(([fd]) => isOpen(fd)), [true, false, false]);
  t.is(handoff.reclaim(), 0, 'a second reclaim finds nothing');
  native.close(pairs[0]![0]);
  for (const [, peer] of pairs) native.close(peer);
});

test('every hand-off is one record in the worker loop ring', (t) => {
  const { handoff, ring } = queue();
  const [a, b] = native.socketpair(C.AF_UNIX, C.SOCK_STREAM, 0);
  t.is(ring.depth(), 0);
  handoff.hand(7, a, C.AF_UNIX);
  t.true(ring.depth() > 0);
  handoff.reclaim();
  native.close(b);
});

test('hand throws RingClosedError when the worker loop is closed, and the fd stays the caller\'s', (t) => {
  const { handoff, ring } = queue();
  const [a, b] = native.socketpair(C.AF_UNIX, C.SOCK_STREAM, 0);
  ring.close();
  t.throws(() => handoff.hand(1, a, C.AF_UNIX), { name: 'RingClosedError' });
  t.is(handoff.inFlight(), 0);
  t.true(isOpen(a));
  native.close(a);
  native.close(b);
});

test('takeHandoff wraps the fd in a net.Socket that reads and writes, and counts it taken', async (t) => {
  const stats = LoopStats.create();
  const [a, b] = native.socketpair(C.AF_UNIX, C.SOCK_STREAM, 0);
  const sock: net.Socket = takeHandoff(a, stats);
  t.is(stats.taken, 1);
  const received = new Promise<string>((resolve) => sock.once('data', (d) => resolve(String(d))));
  native.send(b, Buffer.from('ping'), 0, 4);
  t.is(await received, 'ping');
  await new Promise<void>((resolve) => sock.end('pong', () => resolve()));
  const buffer = Buffer.alloc(8);
  t.is(native.recv(b, buffer, 0, 8), 4);
  t.is(buffer.subarray(0, 4).toString(), 'pong');
  // Half-open until the peer ends too.
  const closed = new Promise((resolve) => sock.once('close', resolve));
  native.close(b);
  await closed;
});
