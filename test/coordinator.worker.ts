/**
 * The worker module of the coordinator tests: what each worker loop
 * registers for the runtime's servers, plus a few controls.
 */
import type http from 'node:http';
import { threadId } from 'node:worker_threads';
import { IPPROTO_TCP, Protocol, TCP_NODELAY, type EventLoop, type Socket, type LoopRef, type StreamReader, type StreamWriter, type Transport } from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';

/** Says which worker serves the connection, then echoes. */
class WhoAmI extends EchoProtocol {
  readonly #index: number;

  constructor(index: number) {
    super();
    this.#index = index;
  }

  override connectionMade(transport: Transport): void {
    super.connectionMade(transport);
    transport.write(Buffer.from(`${this.#index}\n`));
  }
}

/** Answers a line of JSON: the connection's sockname and peername, and whether its TCP_NODELAY is on; then closes. */
class Names extends Protocol {
  override connectionMade(transport: Transport): void {
    const sock = transport.getExtraInfo('socket') as Socket;
    const noDelay = sock.getsockopt(IPPROTO_TCP, TCP_NODELAY);
    const names = { sockname: transport.getExtraInfo('sockname'), peername: transport.getExtraInfo('peername'), noDelay };
    transport.write(Buffer.from(`${JSON.stringify(names)}\n`));
    transport.close();
  }
}

/** Fails on the first bytes it gets. */
class Faulty extends Protocol {
  override dataReceived(): void {
    throw new Error('faulty protocol');
  }
}

export default function setup(loop: EventLoop, ctx: { index: number; loops: LoopRef[]; coordinator: LoopRef }): void {
  loop.register('echo', () => new EchoProtocol());
  loop.register('whoami', () => new WhoAmI(ctx.index));
  loop.register('faulty', () => new Faulty());
  loop.register('names', () => new Names());
  // Reports from this loop's exception handler reach the test through the coordinator.
  loop.setExceptionHandler((_loop, context) => ctx.coordinator.callSoonThreadsafe('workerReported', ctx.index, context.message));
  loop.register('streamsEcho', async (reader: StreamReader, writer: StreamWriter) => {
    const line = await reader.readline();
    writer.write(Buffer.concat([Buffer.from(`${ctx.index}:`), line]));
    await writer.drain();
    writer.close();
  });
  loop.register('hello', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const delay = Number(query.get('delay') ?? 0);
    if (query.has('notify')) ctx.coordinator.callSoonThreadsafe('requestStarted', ctx.index);
    loop.callLater(delay, () => res.end(`hello from ${ctx.index}\n`));
  });
  /** Keeps this loop busy for `seconds` (its lag grows). */
  loop.register('block', (seconds: number) => {
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end);
  });
  loop.register('threadId', () => threadId);
  loop.register('peerThreadId', (peer: number) => ctx.loops[peer]!.call('threadId'));
  loop.register('die', () => {
    setImmediate(() => {
      throw new Error(`worker ${ctx.index} dies on purpose`);
    });
  });
  loop.register('addSignal', (sig: string) => {
    loop.addSignalHandler(sig, () => ctx.coordinator.callSoonThreadsafe('signalled', ctx.index, sig, threadId));
  });
  loop.register('removeSignal', (sig: string) => loop.removeSignalHandler(sig));
}
