/**
 * Worker side of test/native.test.ts: uses the addon's poll handles on a
 * worker thread's own libuv loop.
 *   mode 'events': reports the first writable and readable events of a
 *     socketpair socket, and that the readable event consumed nothing.
 *   mode 'armed': leaves a started poll handle open and reports 'ready', for
 *     the terminate test; 'armed-exit' then lets the thread end by itself.
 *   mode 'batch': makes two sockets readable before the loop turns, and
 *     reports the count and the ids of the first dispatch call.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { native } from '../native/index.js';

const { UV_READABLE, UV_WRITABLE } = native;
const { AF_UNIX, SOCK_STREAM } = native.constants;
const [a, b] = native.socketpair(AF_UNIX, SOCK_STREAM, 0);
const port = parentPort!;

if (workerData.mode === 'armed' || workerData.mode === 'armed-exit') {
  native.pollInit(() => {}, new Int32Array(3));
  native.pollStart(native.pollOpen(a, 1), UV_READABLE);
  // 'armed' stays alive to be terminated; 'armed-exit' ends by itself (poll handles do not keep it alive).
  if (workerData.mode === 'armed') setInterval(() => {}, 1000);
  port.postMessage('ready');
} else if (workerData.mode === 'batch') {
  const keepAlive = setInterval(() => {}, 1000);
  const [c, d] = native.socketpair(AF_UNIX, SOCK_STREAM, 0);
  native.send(b, Buffer.from('x'), 0, 1);
  native.send(d, Buffer.from('y'), 0, 1);
  const watches = [native.pollOpen(a, 1), native.pollOpen(c, 2)];
  const batch = new Int32Array(3 * 8);
  native.pollInit((count) => {
    const ids = Array.from({ length: count }, (_, i) => batch[3 * i]!).sort();
    for (const watch of watches) native.pollClose(watch);
    for (const fd of [a, b, c, d]) native.close(fd);
    clearInterval(keepAlive);
    port.postMessage({ count, ids });
  }, batch);
  for (const watch of watches) native.pollStart(watch, UV_READABLE);
} else {
  // Poll handles are unreferenced: this timer keeps the thread alive meanwhile.
  const keepAlive = setInterval(() => {}, 1000);
  const seen: string[] = [];
  const watch = native.pollOpen(a, 7);
  const batch = new Int32Array(3 * 8);
  native.pollInit((count) => {
    for (let i = 0; i < 3 * count; i += 3) onEvent(batch[i]!, batch[i + 1]!, batch[i + 2]!);
  }, batch);
  const onEvent = (id: number, status: number, events: number): void => {
    if (events & UV_WRITABLE && !seen.includes('writable')) {
      seen.push('writable');
      native.pollStart(watch, UV_READABLE);
      native.send(b, Buffer.from('ping'), 0, 4);
    } else if (events & UV_READABLE) {
      const buffer = Buffer.alloc(16);
      const n = native.recv(a, buffer, 0, 16);
      native.pollClose(watch);
      native.close(a);
      native.close(b);
      clearInterval(keepAlive);
      port.postMessage({ id, status, seen, data: buffer.subarray(0, n ?? 0).toString() });
    }
  };
  native.pollStart(watch, UV_READABLE | UV_WRITABLE);
}
