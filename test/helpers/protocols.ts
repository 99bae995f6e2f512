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

  /** Writes `text` and ends the writing side; settles with all that came back once the connection is lost (against an echoing peer). */
  async echo(text: string): Promise<string> {
    this.transport.write(Buffer.from(text));
    this.transport.writeEof();
    await this.lost;
    return Buffer.concat(this.chunks).toString();
  }
}

/** Records every callback in order; `seen(name)` settles once that callback ran. */
export class Recorder extends Protocol {
  events: string[] = [];
  received: Buffer[] = [];
  transport!: Transport;
  lostWith: Error | null = null;
  keepOpen = false;
  onData: ((data: Buffer) => void) | null = null;
  private readonly waiters = new Map<string, Future<void>>();
  constructor(private readonly loop: EventLoop) {
    super();
  }
  seen(name: string): Future<void> {
    let waiter = this.waiters.get(name);
    if (waiter === undefined) {
      waiter = this.loop.createFuture<void>();
      this.waiters.set(name, waiter);
      if (this.events.includes(name)) waiter.setResult(undefined);
    }
    return waiter;
  }
  private record(name: string): void {
    this.events.push(name);
    const waiter = this.waiters.get(name);
    if (waiter !== undefined && !waiter.done()) waiter.setResult(undefined);
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    this.record('made');
  }
  override dataReceived(data: Buffer): void {
    this.received.push(data);
    this.onData?.(data);
    this.record('data');
  }
  override eofReceived(): boolean {
    this.record('eof');
    return this.keepOpen;
  }
  override pauseWriting(): void {
    this.record('pause');
  }
  override resumeWriting(): void {
    this.record('resume');
  }
  override connectionLost(exc: Error | null): void {
    this.lostWith = exc;
    this.record('lost');
  }
  get bytes(): Buffer {
    return Buffer.concat(this.received);
  }
  /** How many times the callback `name` ran. */
  count(name: string): number {
    return this.events.filter((e) => e === name).length;
  }
  /** Settles once `n` bytes were received in all. */
  async receivedBytes(n: number): Promise<Buffer> {
    while (this.bytes.length < n) {
      this.waiters.delete('data');
      await this.seen('data');
    }
    return this.bytes;
  }
}
