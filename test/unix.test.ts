import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { AF_UNIX, SOCK_STREAM, socket, socketpair } from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';
import { withLoop } from './helpers/loop.js';
import { Collector } from './helpers/protocols.js';

let dir: string;
test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiloop-unix-'));
});
test.after.always(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test.serial('a UNIX connection echoes bytes; names are the path and the empty string', async (t) => {
  await withLoop(async (loop) => {
    const sockPath = path.join(dir, 'echo.sock');
    const accepted = loop.createFuture<EchoProtocol>();
    const server = await loop.createUnixServer(() => {
      const p = new EchoProtocol();
      accepted.setResult(p);
      return p;
    }, sockPath);
    t.is(server.sockets![0]!.getsockname(), sockPath);
    const [transport, client] = await loop.createUnixConnection(() => new Collector(loop), sockPath);
    t.is(transport.getExtraInfo('peername'), sockPath);
    t.is(transport.getExtraInfo('sockname'), '');
    const peer = await accepted;
    t.is(peer.transport.getExtraInfo('sockname'), sockPath);
    t.is(peer.transport.getExtraInfo('peername'), '');
    transport.write(Buffer.from('over a path'));
    transport.writeEof();
    t.is(await client.lost, null);
    t.is(Buffer.concat(client.chunks).toString(), 'over a path');
    server.close();
    await server.waitClosed();
    t.false(fs.existsSync(sockPath));
  });
});

test.serial('createUnixServer replaces a stale socket file but never another file', async (t) => {
  await withLoop(async (loop) => {
    const sockPath = path.join(dir, 'stale.sock');
    // A socket file left behind, as by a crashed process: bound, then closed without unlinking.
    const stale = socket(AF_UNIX, SOCK_STREAM);
    stale.bind(sockPath);
    stale.close();
    t.true(fs.statSync(sockPath).isSocket());
    const server = await loop.createUnixServer(() => new EchoProtocol(), sockPath);
    t.is(server.sockets![0]!.getsockname(), sockPath);
    server.close();
    await server.waitClosed();
    const regular = path.join(dir, 'regular');
    fs.writeFileSync(regular, 'keep me');
    await t.throwsAsync(loop.createUnixServer(() => new EchoProtocol(), regular), { code: 'EADDRINUSE' });
    t.is(fs.readFileSync(regular, 'utf8'), 'keep me');
  });
});

test.serial('connecting to a missing path rejects with ENOENT', async (t) => {
  await withLoop(async (loop) => {
    await t.throwsAsync(loop.createUnixConnection(() => new Collector(loop), path.join(dir, 'missing.sock')), {
      code: 'ENOENT',
    });
  });
});

test.serial('createUnixConnection and createUnixServer reject a bad path with a TypeError', async (t) => {
  await withLoop(async (loop) => {
    t.throws(() => loop.createUnixConnection(() => new Collector(loop), 42 as never), { instanceOf: TypeError, message: /path/ });
    t.throws(() => loop.createUnixServer(() => new EchoProtocol(), '' as never), { instanceOf: TypeError, message: /path/ });
  });
});

test.serial('an abstract-namespace path works without a file', async (t) => {
  await withLoop(async (loop) => {
    const name = `\0multiloop-${process.pid}`;
    const server = await loop.createUnixServer(() => new EchoProtocol(), name);
    const [, client] = await loop.createUnixConnection(() => new Collector(loop), name);
    t.is(await client.echo('abstract'), 'abstract');
    server.close();
    await server.waitClosed();
  });
});

test.serial('createUnixConnection adopts both ends of a socketpair', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = socketpair();
    const [left, leftProto] = await loop.createUnixConnection(() => new Collector(loop), null, { sock: a });
    const [right] = await loop.createUnixConnection(() => new EchoProtocol(), null, { sock: b });
    t.is(a.fileno(), -1);
    left.write(Buffer.from('paired'));
    left.writeEof();
    t.is(await leftProto.lost, null);
    t.is(Buffer.concat(leftProto.chunks).toString(), 'paired');
    // The echoing end closed on EOF, which is what ended the left one.
    t.true(right.isClosing());
  });
});

test.serial('createUnixConnection of an adopted connected socket has the path it connects to as peername', async (t) => {
  await withLoop(async (loop) => {
    const sockPath = path.join(dir, 'named-peer.sock');
    const server = await loop.createUnixServer(() => new EchoProtocol(), sockPath);
    const sock = socket(AF_UNIX, SOCK_STREAM);
    sock.setblocking(false);
    await loop.sockConnect(sock, sockPath);
    const [transport, client] = await loop.createUnixConnection(() => new Collector(loop), null, { sock });
    t.is(transport.getExtraInfo('peername'), sockPath);
    t.is(transport.getExtraInfo('sockname'), '');
    t.is(await client.echo('named'), 'named');
    transport.close();
    await client.lost;
    server.close();
    await server.waitClosed();
  });
});

test.serial('createUnixServer adopts a bound native UNIX socket given as sock', async (t) => {
  await withLoop(async (loop) => {
    const sockPath = path.join(dir, 'adopted.sock');
    const listener = socket(AF_UNIX, SOCK_STREAM);
    listener.bind(sockPath);
    const server = await loop.createUnixServer(() => new EchoProtocol(), null, { sock: listener });
    const [, client] = await loop.createUnixConnection(() => new Collector(loop), sockPath);
    t.is(await client.echo('adopted listener'), 'adopted listener');
    server.close();
    await server.waitClosed();
  });
});
