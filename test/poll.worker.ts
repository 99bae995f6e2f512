/**
 * Worker side of test/poll.test.ts: a worker thread's own loop serves a
 * writer and a reader on a socketpair, then reports what it saw.
 */
import { parentPort } from 'node:worker_threads';
import { newEventLoop, socketpair } from 'multiloop';

const loop = newEventLoop();
const [a, b] = socketpair();
const seen: string[] = [];
loop.addWriter(a, () => {
  seen.push('writable');
  loop.removeWriter(a);
  a.send(Buffer.from('from a'));
});
loop.addReader(b, () => {
  seen.push(`read ${b.recv(64).toString()}`);
  loop.removeReader(b);
  loop.stop();
});
await loop.runForever();
a.close();
b.close();
loop.close();
parentPort!.postMessage(seen);
