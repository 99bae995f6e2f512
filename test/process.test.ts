import test from 'ava';
import {
  SubprocessProtocol, ProcessLookupError,
  type EventLoop, type Future, type SubprocessTransport,
} from 'multiloop';
import { withLoop } from './helpers/loop.js';

/** Records the child's output per fd and the order of callbacks. */
class Recorder extends SubprocessProtocol {
  transport!: SubprocessTransport;
  events: string[] = [];
  output = new Map<number, Buffer[]>();
  readonly lost: Future<Error | null>;
  readonly exited: Future<void>;
  constructor(loop: EventLoop) {
    super();
    this.lost = loop.createFuture();
    this.exited = loop.createFuture();
  }
  override connectionMade(transport: SubprocessTransport): void {
    this.transport = transport;
    this.events.push('made');
  }
  override pipeDataReceived(fd: number, data: Buffer): void {
    const chunks = this.output.get(fd) ?? [];
    chunks.push(data);
    this.output.set(fd, chunks);
  }
  override pipeConnectionLost(fd: number, exc: Error | null): void {
    this.events.push(`pipe${fd}:${exc === null ? 'ok' : 'error'}`);
  }
  override processExited(): void {
    this.events.push('exited');
    this.exited.setResult(undefined);
  }
  override connectionLost(exc: Error | null): void {
    this.events.push('lost');
    this.lost.setResult(exc);
  }
  text(fd: number): string {
    return Buffer.concat(this.output.get(fd) ?? []).toString();
  }
}

test.serial('subprocessExec feeds stdin and reads stdout and stderr, then reports exit and connectionLost', async (t) => {
  await withLoop(async (loop) => {
    const [transport, proto] = await loop.subprocessExec(
      () => new Recorder(loop), 'sh', '-c', 'cat; echo err >&2; exit 3',
    );
    t.deepEqual(proto.events, ['made']);
    t.true(transport.getPid() > 0);
    t.is(transport.getReturncode(), null);
    const stdin = transport.getPipeTransport(0)!;
    stdin.write(Buffer.from('to stdout'));
    stdin.close();
    t.is(await proto.lost, null);
    t.is(transport.getReturncode(), 3);
    t.is(proto.text(1), 'to stdout');
    t.is(proto.text(2), 'err\n');
    t.is(proto.events.at(-1), 'lost');
    t.deepEqual(proto.events.filter((e) => e.startsWith('pipe')).sort(), ['pipe0:ok', 'pipe1:ok', 'pipe2:ok']);
    t.true(proto.events.includes('exited'));
  });
});

test.serial('subprocessShell runs a command line through /bin/sh', async (t) => {
  await withLoop(async (loop) => {
    const [transport, proto] = await loop.subprocessShell(() => new Recorder(loop), 'echo $((6 * 7))', { stdin: 'ignore' });
    t.is(transport.getPipeTransport(0), null);
    await proto.lost;
    t.is(proto.text(1), '42\n');
    t.is(transport.getReturncode(), 0);
  });
});

test.serial('terminate() ends the child and the return code is minus the signal number', async (t) => {
  await withLoop(async (loop) => {
    const [transport, proto] = await loop.subprocessExec(() => new Recorder(loop), 'sleep', '30');
    transport.terminate();
    await proto.exited;
    t.is(transport.getReturncode(), -15);
    await proto.lost;
  });
});

test.serial('sendSignal takes a name or a number and rejects invalid signals', async (t) => {
  await withLoop(async (loop) => {
    const [transport, proto] = await loop.subprocessExec(() => new Recorder(loop), 'sleep', '30');
    t.throws(() => transport.sendSignal('SIGNOPE' as never), { instanceOf: RangeError, message: /sig/ });
    t.throws(() => transport.sendSignal(1000), { instanceOf: RangeError, message: /sig/ });
    t.throws(() => transport.sendSignal({} as never), { instanceOf: TypeError, message: /sig/ });
    transport.sendSignal(9);
    await proto.lost;
    t.is(transport.getReturncode(), -9);
    t.throws(() => transport.kill(), { instanceOf: ProcessLookupError, code: 'ESRCH' });
  });
});

test.serial('close() kills a child that still runs', async (t) => {
  await withLoop(async (loop) => {
    const [transport, proto] = await loop.subprocessExec(() => new Recorder(loop), 'sleep', '30');
    transport.close();
    t.true(transport.isClosing());
    await proto.lost;
    t.is(transport.getReturncode(), -9);
  });
});

test.serial('a missing program rejects with ENOENT', async (t) => {
  await withLoop(async (loop) => {
    await t.throwsAsync(loop.subprocessExec(() => new Recorder(loop), '/nonexistent/program'), { code: 'ENOENT' });
  });
});

test.serial('subprocessExec rejects non-string arguments with a TypeError naming them', async (t) => {
  await withLoop(async (loop) => {
    t.throws(() => loop.subprocessExec(() => new Recorder(loop), 42 as never), { instanceOf: TypeError, message: /program/ });
    t.throws(() => loop.subprocessExec(() => new Recorder(loop), 'echo', 'a', 7 as never, 'b'), {
      instanceOf: TypeError,
      message: /args\[1\]/,
    });
    t.throws(() => loop.subprocessExec(() => new Recorder(loop), 'echo', { stdout: 'nowhere' as never }), {
      instanceOf: TypeError,
      message: /stdout/,
    });
  });
});

test.serial('a child that exits at once still gets connectionMade before its output and exit', async (t) => {
  await withLoop(async (loop) => {
    const [transport, proto] = await loop.subprocessShell(() => new Recorder(loop), 'echo fast');
    await proto.lost;
    t.is(proto.events[0], 'made');
    t.is(proto.text(1), 'fast\n');
    t.is(transport.getReturncode(), 0);
  });
});
