/**
 * The worker module of bench:cluster's multiloop server: registers an echo
 * protocol and a hello-world HTTP handler on each worker loop.
 */
import type http from 'node:http';
import { Protocol, type EventLoop, type Transport } from '../runtime/index.js';

class Echo extends Protocol {
  #transport: Transport | null = null;

  override connectionMade(transport: Transport): void {
    this.#transport = transport;
  }

  override dataReceived(data: Buffer): void {
    this.#transport!.write(data);
  }
}

export default function setup(loop: EventLoop): void {
  loop.register('echo', () => new Echo());
  loop.register('hello', (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('hello\n'));
}
