/**
 * Subprocesses: `subprocessExec`/`subprocessShell` and their transport,
 * over Node's `child_process.spawn`. Each child pipe is a pipe transport of
 * `pipes.ts` whose events are forwarded to the SubprocessProtocol.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { BaseEventLoop } from './base_events.js';
import { ProcessLookupError } from './errors.js';
import { logger } from './log.js';
import { connectPipe, READ_PIPE, WRITE_PIPE } from './pipes.js';
import { Protocol, type ProtocolFactory, type SubprocessProtocol } from './protocols.js';
import { checkProtocolFactory, type StreamTransport } from './tcp.js';
import { TransportBase, whenDone, type SubprocessTransport } from './transports.js';

/** Where a child's fd 0, 1 or 2 goes: a pipe to this process (default), the parent's own, nowhere, or an fd. */
export type StdioSpec = 'pipe' | 'inherit' | 'ignore' | number;

export interface SubprocessOptions {
  stdin?: StdioSpec;
  stdout?: StdioSpec;
  stderr?: StdioSpec;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** The signal number of a number or a name like `'SIGTERM'`; throws naming `sig` otherwise. */
export function signalNumber(sig: unknown): number {
  const signals = os.constants.signals as Record<string, number>;
  if (typeof sig === 'string') {
    const n = signals[sig];
    if (n === undefined) throw new RangeError(`sig must be a signal name like 'SIGTERM', not ${JSON.stringify(sig)}`);
    return n;
  }
  if (typeof sig !== 'number') throw new TypeError(`sig must be a number or a signal name, not ${typeof sig}`);
  if (!Object.values(signals).includes(sig)) throw new RangeError(`sig must be a valid signal number, not ${sig}`);
  return sig;
}

/** Forwards one child pipe's events to the subprocess transport. */
class PipeProtocol extends Protocol {
  readonly #process: ProcessTransport<SubprocessProtocol>;
  readonly #fd: number;

  constructor(process: ProcessTransport<SubprocessProtocol>, fd: number) {
    super();
    this.#process = process;
    this.#fd = fd;
  }

  override dataReceived(data: Buffer): void {
    this.#process._call(() => this.#process.getProtocol().pipeDataReceived(this.#fd, data));
  }

  override connectionLost(exc: Error | null): void {
    this.#process._call(() => this.#process._pipeLost(this.#fd, exc));
  }

  override pauseWriting(): void {
    this.#process.getProtocol().pauseWriting();
  }

  override resumeWriting(): void {
    this.#process.getProtocol().resumeWriting();
  }
}

/**
 * asyncio's subprocess transport. Guarantees: `connectionMade` first, then
 * `pipeDataReceived`/`pipeConnectionLost` per pipe and `processExited` once,
 * and `connectionLost(null)` once, after the child exited and every pipe closed.
 */
export class ProcessTransport<P extends SubprocessProtocol = SubprocessProtocol>
  extends TransportBase<P>
  implements SubprocessTransport
{
  private readonly _child: ChildProcess;
  private readonly _pipes = new Map<number, StreamTransport<PipeProtocol>>();
  private _openPipes = 0;
  private _returncode: number | null = null;
  private _finished = false;
  /** Protocol calls that came before `connectionMade` ran (asyncio's pending calls); null after. */
  private _pending: (() => void)[] | null = [];

  private readonly _onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    // asyncio's convention: minus the signal number when a signal ended the child.
    const returncode = code ?? -signalNumber(signal);
    if (!this._loop.isClosed()) this._loop._callIo(() => this._call(() => this._deliverExit(returncode)));
  };
  private readonly _deliverExit = (returncode: number): void => {
    this._returncode = returncode;
    this._protocol.processExited();
    this._tryFinish();
  };

  constructor(loop: BaseEventLoop, child: ChildProcess, protocol: P) {
    super(loop, protocol, { subprocess: child });
    this._child = child;
    child.on('exit', this._onExit);
  }

  /** Connects the child's pipes, then runs `connectionMade`; settles once that ran. */
  async _start(): Promise<void> {
    const pipes: [number, Readable | Writable | null][] = [
      [0, this._child.stdin],
      [1, this._child.stdout],
      [2, this._child.stderr],
    ];
    // Every pipe gets its transport (and so its listeners) now, before any
    // await: once the child exits, Node resumes the output streams nobody
    // listens to yet, and what they hold would be emitted to no one.
    const connecting: Promise<unknown>[] = [];
    for (const [fd, stream] of pipes) {
      if (stream === null) continue;
      this._openPipes++;
      const connected = connectPipe(this._loop, () => new PipeProtocol(this, fd), stream, fd === 0 ? WRITE_PIPE : READ_PIPE);
      connecting.push(connected.then(([transport]) => this._pipes.set(fd, transport)));
    }
    await Promise.all(connecting);
    await new Promise<void>((resolve) =>
      this._loop._callIo(() => {
        try {
          this._protocol.connectionMade(this);
        } finally {
          const pending = this._pending!;
          this._pending = null;
          for (const call of pending) call();
          resolve();
        }
      }),
    );
  }

  /** @internal Runs a protocol call now, or after `connectionMade` if that has not run yet. */
  _call(fn: () => void): void {
    if (this._pending === null) fn();
    else this._pending.push(fn);
  }

  getPid(): number {
    return this._child.pid!;
  }

  getReturncode(): number | null {
    return this._returncode;
  }

  getPipeTransport(fd: number): StreamTransport<PipeProtocol> | null {
    return this._pipes.get(fd) ?? null;
  }

  /** Sends `sig` (a number or a name); a child that already exited is left alone. Throws ProcessLookupError once the transport is closed, as asyncio does. */
  sendSignal(sig: number | NodeJS.Signals): void {
    const n = signalNumber(sig);
    if (this._finished) throw new ProcessLookupError('the subprocess transport is closed');
    if (this._returncode === null) this._child.kill(n);
  }

  terminate(): void {
    this.sendSignal('SIGTERM');
  }

  kill(): void {
    this.sendSignal('SIGKILL');
  }

  /** Closes the pipes and kills the child if it still runs (as asyncio does). */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    for (const pipe of this._pipes.values()) pipe.close();
    if (this._returncode === null && this._child.exitCode === null && this._child.signalCode === null) {
      if (this._loop.getDebug()) logger.warn(`close() kills the running child process ${this._child.pid}`);
      this._child.kill('SIGKILL');
    }
  }

  _forceClose(): void {
    this.close();
  }

  /** @internal A pipe transport lost its connection. */
  _pipeLost(fd: number, exc: Error | null): void {
    this._protocol.pipeConnectionLost(fd, exc);
    this._openPipes--;
    this._tryFinish();
  }

  private _tryFinish(): void {
    if (this._finished || this._returncode === null || this._openPipes > 0) return;
    this._finished = true;
    this._closing = true;
    this._unregister();
    this._protocol.connectionLost(null);
  }
}

function stdio(spec: StdioSpec | undefined, name: string): StdioSpec {
  if (spec === undefined) return 'pipe';
  if (spec === 'pipe' || spec === 'inherit' || spec === 'ignore') return spec;
  if (typeof spec === 'number' && Number.isInteger(spec) && spec >= 0) return spec;
  throw new TypeError(`${name} must be 'pipe', 'inherit', 'ignore' or a file descriptor, not ${String(spec)}`);
}

/** Spawns and waits for the child to start; rejects with the OS error (ENOENT, EACCES, ...) otherwise. */
function start<P extends SubprocessProtocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  file: string,
  args: string[],
  options: SubprocessOptions,
): Promise<[ProcessTransport<P>, P]> {
  loop._checkClosed();
  checkProtocolFactory(protocolFactory);
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const stdioOptions: StdioOptions = [stdio(options.stdin, 'stdin'), stdio(options.stdout, 'stdout'), stdio(options.stderr, 'stderr')];
  const child: ChildProcess = spawn(file, args, { stdio: stdioOptions, cwd: options.cwd, env: options.env });
  const destroyStdio = (): void => {
    for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
  };
  return whenDone(child, destroyStdio, (done) => child.once('spawn', done)).then(async () => {
    let protocol: P;
    try {
      loop._checkClosed();
      protocol = protocolFactory();
    } catch (exc) {
      child.kill('SIGKILL');
      destroyStdio();
      throw exc;
    }
    const transport = new ProcessTransport(loop, child, protocol);
    await transport._start();
    return [transport, protocol];
  });
}

/**
 * The seed's `subprocess_exec`: runs `program` with `args` (strings; a last
 * plain object is the options: `stdin`/`stdout`/`stderr`, `cwd`, `env`) and
 * settles with `[transport, protocol]` after `connectionMade` ran.
 */
export function subprocessExec<P extends SubprocessProtocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  program: string,
  ...args: (string | SubprocessOptions)[]
): Promise<[ProcessTransport<P>, P]> {
  if (typeof program !== 'string') throw new TypeError(`program must be a string, not ${typeof program}`);
  const last = args[args.length - 1];
  const options = typeof last === 'object' && last !== null ? (args.pop() as SubprocessOptions) : {};
  args.forEach((arg, i) => {
    if (typeof arg !== 'string') throw new TypeError(`args[${i}] must be a string, not ${typeof arg}`);
  });
  return start(loop, protocolFactory, program, args as string[], options);
}

/** The seed's `subprocess_shell`: runs `cmd` with `/bin/sh -c`; options as `subprocessExec`. */
export function subprocessShell<P extends SubprocessProtocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  cmd: string,
  options: SubprocessOptions = {},
): Promise<[ProcessTransport<P>, P]> {
  if (typeof cmd !== 'string') throw new TypeError(`cmd must be a string, not ${typeof cmd}`);
  return start(loop, protocolFactory, '/bin/sh', ['-c', cmd], options);
}
