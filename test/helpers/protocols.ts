/**
 * Protocols the transport tests share.
 */
import { Protocol, type EventLoop, type Future, type Transport } from 'multiloop';

/** Collects received bytes; `lost` settles with connectionLost's argument. */
export class Collector extends Protocol {
  transport!: Transport;
  chunks: Buffer[] = [];
  readonly lost: Future<Error | null>;
  constructor(loop: EventLoop) {
    super();
    this.lost = loop.createFuture();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Buffer): void {
    this.chunks.push(data);
  }
  override connectionLost(exc: Error | null): void {
    this.lost.setResult(exc);
  }
}
