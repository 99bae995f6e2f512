/**
 * The worker module of the fd-transport runtime tests: each worker loop
 * registers an echo server, and servers that tell which transport class
 * serves the connection.
 */
import { Protocol, type EventLoop, type StreamReader, type StreamWriter, type Transport } from 'multiloop';

/** Echoes every byte back. */
class Echo extends Protocol {
  #transport: Transport | null = null;

  override connectionMade(transport: Transport): void {
    this.#transport = transport;
  }

  override dataReceived(data: Buffer): void {
    this.#transport!.write(data);
  }
}

/** Writes the name of its transport's class, then closes. */
class Kind extends Protocol {
  override connectionMade(transport: Transport): void {
    transport.write(Buffer.from(transport.constructor.name));
    transport.close();
  }
}

export default function setup(loop: EventLoop): void {
  loop.register('echo', () => new Echo());
  loop.register('kind', () => new Kind());
  loop.register('streamsKind', async (reader: StreamReader, writer: StreamWriter) => {
    const line = await reader.readline();
    writer.write(Buffer.concat([Buffer.from(`${writer.transport.constructor.name} `), line]));
    await writer.drain();
    writer.close();
  });
}
