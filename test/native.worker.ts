/**
 * Worker side of test/native.test.ts: uses the addon's poll handles on a
 * worker thread's own libuv loop.
 *   mode 'events': reports the first writable and readable events of a
 *     socketpair socket, and that the readable event consumed nothing.
 *   mode 'armed': leaves a started poll handle open and reports 'ready', for
 *     the terminate test; 'armed-exit' then lets the thread end by itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { native } from '../native/index.js';

const { UV_READABLE, UV_WRITABLE } = native;
const { AF_UNIX, SOCK_STREAM } = native.constants;
const [a, b] = native.socketpair(AF_UNIX, SOCK_STREAM, 0);
const port = parentPort!;

if (workerData.mode === 'armed' || workerData.mode === 'armed-exit') {
  native.pollInit(() => {});
  native.pollStart(native.pollOpen(a, 1), UV_READABLE);
  // 'armed' stays alive to be terminated; 'armed-exit' ends by itself (poll handles do not keep it alive).
  if (workerData.mode === 'armed') setInterval(() => {}, 1000);
  port.postMessage('ready');
} else {
  // Poll handles are unreferenced: this timer keeps the thread alive meanwhile.
  const keepAlive = setInterval(() => {}, 1000);
  const seen: string[] = [];
  const watch = native.pollOpen(a, 7);
  native.pollInit((id, status, events) => {
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
  });
  native.pollStart(watch, UV_READABLE | UV_WRITABLE);
}
