/**
 * The worker module of the fd-transport runtime tests: each worker loop
 * registers an echo server, and servers that tell which transport class
 * serves the connection.
 */
import { Protocol, type EventLoop, type StreamReader, type StreamWriter, type Transport } from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';

/** Writes the name of its transport's class, then closes. */
class Kind extends Protocol {
  override connectionMade(transport: Transport): void {
    transport.write(Buffer.from(transport.constructor.name));
    transport.close();
  }
}

export default function setup(loop: EventLoop): void {
  loop.register('echo', () => new EchoProtocol());
  loop.register('kind', () => new Kind());
  loop.register('streamsKind', async (reader: StreamReader, writer: StreamWriter) => {
    const line = await reader.readline();
    writer.write(Buffer.concat([Buffer.from(`${writer.transport.constructor.name} `), line]));
    await writer.drain();
    writer.close();
  });
}
