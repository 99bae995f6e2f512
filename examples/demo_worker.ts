/**
 * The worker module of the demo (`npm start`): every worker loop registers
 * an echo protocol and an HTTP handler, which the coordinator's servers
 * serve on all cores.
 */
import type http from 'node:http';
import type { EventLoop } from 'multiloop';
import { EchoProtocol } from './echo_protocol.js';

export default function setup(loop: EventLoop, ctx: { index: number; workers: number }): void {
  loop.register('echo', () => new EchoProtocol());
  loop.register('hello', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('content-type', 'application/json');
    res.end(`${JSON.stringify({ hello: req.url, worker: ctx.index, of: ctx.workers, time: loop.time() })}\n`);
  });
}
