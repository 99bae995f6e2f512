/**
 * Worker side of test/socket.test.ts: opens Sockets, never closes them, and
 * reports 'ready'; the test then terminates the thread.
 */
import { parentPort } from 'node:worker_threads';
import { socket, socketpair } from 'multiloop';

const open = [...socketpair(), socket()];
open[2]!.bind(['127.0.0.1', 0]);
open[2]!.listen();
setInterval(() => open.length, 1000);
parentPort!.postMessage('ready');
