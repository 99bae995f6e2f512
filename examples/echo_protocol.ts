/**
 * The echo protocol: every byte a connection receives goes back to its
 * peer. The demo's workers serve it; the benchmarks and tests reuse it as
 * the one echo server.
 */
import { Protocol, RuntimeError, type Transport } from 'multiloop';

/**
 * Echoes every byte back. At EOF it lets the transport close (its
 * `eofReceived` keeps the default), so the peer reads the whole echo, then EOF.
 */
export class EchoProtocol extends Protocol {
  #transport: Transport | null = null;

  /** The connection's transport; a RuntimeError before `connectionMade`. */
  get transport(): Transport {
    if (this.#transport === null) throw new RuntimeError('the echo connection is not made yet');
    return this.#transport;
  }

  override connectionMade(transport: Transport): void {
    this.#transport = transport;
  }

  override dataReceived(data: Buffer): void {
    this.#transport!.write(data);
  }
}
