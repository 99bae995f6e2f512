/**
 * The worker module of the demo (`npm start`): every worker loop registers
 * an echo protocol and an HTTP handler, which the coordinator's servers
 * serve on all cores.
 */
import type http from 'node:http';
import { Protocol, type EventLoop, type Transport } from 'multiloop';

/** Echoes every byte back; closes when the client is done sending. */
class Echo extends Protocol {
  #transport: Transport | null = null;

  override connectionMade(transport: Transport): void {
    this.#transport = transport;
  }

  override dataReceived(data: Buffer): void {
    this.#transport!.write(data);
  }
}

export default function setup(loop: EventLoop, ctx: { index: number; workers: number }): void {
  loop.register('echo', () => new Echo());
  loop.register('hello', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('content-type', 'application/json');
    res.end(`${JSON.stringify({ hello: req.url, worker: ctx.index, of: ctx.workers, time: loop.time() })}\n`);
  });
}
