/**
 * Protocols: the callback side of asyncio's transports/protocols model.
 *
 * A transport calls these methods on the loop's thread, always through the
 * loop (so a protocol never runs while its loop is stopped). The classes are
 * usable as they are (every method is a no-op) or as bases; any object with
 * the same methods works, since transports only call them.
 */
import type {
  BaseTransport,
  DatagramTransport,
  SubprocessTransport,
  Transport,
} from './transports.js';
import type { Address } from './transports.js';

/** What every protocol implements: connection life and write flow control. */
export class BaseProtocol {
  /** Called once, with the transport, before any other callback. */
  connectionMade(_transport: BaseTransport): void {}

  /**
   * Called exactly once when the connection is gone: `exc` is null for a
   * regular close (EOF, `close()`, `abort()`), or the error that ended it.
   */
  connectionLost(_exc: Error | null): void {}

  /** The transport's write buffer went over its high-water mark. */
  pauseWriting(): void {}

  /** The transport's write buffer drained to its low-water mark. */
  resumeWriting(): void {}
}

/** A stream protocol (TCP, UNIX, TLS, pipes). */
export class Protocol extends BaseProtocol {
  override connectionMade(_transport: Transport): void {}

  /** Called with each chunk of received bytes, in order. */
  dataReceived(_data: Buffer): void {}

  /**
   * Called when the peer sent EOF. Returning a truthy value keeps the
   * transport half-open (it can still write); otherwise it closes itself.
   */
  eofReceived(): boolean | void {
    return false;
  }
}

/** A datagram (UDP) protocol. */
export class DatagramProtocol extends BaseProtocol {
  override connectionMade(_transport: DatagramTransport): void {}

  /** Called with each datagram and the address it came from. */
  datagramReceived(_data: Buffer, _addr: Address): void {}

  /** Called when a send or receive failed; the endpoint stays open. */
  errorReceived(_exc: Error): void {}
}

/** The protocol of a child process started by `subprocessExec`/`subprocessShell`. */
export class SubprocessProtocol extends BaseProtocol {
  override connectionMade(_transport: SubprocessTransport): void {}

  /** Called with bytes the child wrote on its stdout (fd 1) or stderr (fd 2). */
  pipeDataReceived(_fd: number, _data: Buffer): void {}

  /** Called once per child pipe (fd 0, 1 or 2) when it closes. */
  pipeConnectionLost(_fd: number, _exc: Error | null): void {}

  /** Called when the child exited; `getReturncode()` is then set. */
  processExited(): void {}
}

/** Creates the protocol of one connection; called with no arguments. */
export type ProtocolFactory<P> = () => P;
