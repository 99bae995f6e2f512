/**
 * The worker module of bench:cluster's multiloop server: registers an echo
 * protocol and a hello-world HTTP handler on each worker loop.
 */
import type http from 'node:http';
import type { EventLoop } from '../runtime/index.js';
import { EchoProtocol } from '../examples/echo_protocol.js';

export default function setup(loop: EventLoop): void {
  loop.register('echo', () => new EchoProtocol());
  loop.register('hello', (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('hello\n'));
}
