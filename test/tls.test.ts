import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import test from 'ava';
import { type EventLoop, type Server } from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';
import { openFds } from './helpers/fds.js';
import { withLoop } from './helpers/loop.js';
import { Collector } from './helpers/protocols.js';
import { closeServer, portOf } from './helpers/servers.js';
import { selfSigned } from './helpers/tls.js';

let dir: string;
let serverContext: tls.SecureContext;
let clientContext: tls.SecureContext;

test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiloop-tls-'));
  const { key, cert } = selfSigned();
  serverContext = tls.createSecureContext({ key, cert });
  clientContext = tls.createSecureContext({ ca: cert });
});

test.after.always(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function tlsEchoServer(loop: EventLoop): Promise<[Server, number]> {
  const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0, { ssl: serverContext });
  return [server, portOf(server)];
}

test.serial('a TLS connection echoes bytes and reports sslcontext, peercert and cipher', async (t) => {
  await withLoop(async (loop) => {
    const [server, port] = await tlsEchoServer(loop);
    const [transport, client] = await loop.createConnection(() => new Collector(loop), '127.0.0.1', port, {
      ssl: clientContext,
    });
    t.is(transport.getExtraInfo('sslcontext'), clientContext);
    t.is((transport.getExtraInfo('peercert') as tls.PeerCertificate).subject.CN, 'localhost');
    t.truthy((transport.getExtraInfo('cipher') as tls.CipherNameAndProtocol).name);
    t.true(transport.getExtraInfo('socket') instanceof tls.TLSSocket);
    transport.write(Buffer.from('secret'));
    transport.writeEof();
    t.is(await client.lost, null);
    t.is(Buffer.concat(client.chunks).toString(), 'secret');
    await closeServer(server);
  });
});

test.serial('ssl: true verifies against the default CAs and rejects a self-signed server, closing the socket', async (t) => {
  await withLoop(async (loop) => {
    const before = openFds();
    const [server, port] = await tlsEchoServer(loop);
    const err = await t.throwsAsync(loop.createConnection(() => new Collector(loop), 'localhost', port, { ssl: true }));
    t.regex(String((err as NodeJS.ErrnoException).code), /SELF_SIGNED/);
    // waitClosed also waits for the server's side of the failed handshake.
    await closeServer(server);
    t.is(openFds(), before);
  });
});

test.serial('serverHostname is matched against the certificate', async (t) => {
  await withLoop(async (loop) => {
    const [server, port] = await tlsEchoServer(loop);
    const err = await t.throwsAsync(
      loop.createConnection(() => new Collector(loop), '127.0.0.1', port, { ssl: clientContext, serverHostname: 'example.com' }),
    );
    t.is((err as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    const [transport] = await loop.createConnection(() => new Collector(loop), '127.0.0.1', port, {
      ssl: clientContext,
      serverHostname: 'localhost',
    });
    transport.close();
    await closeServer(server);
  });
});

test.serial("serverHostname '' disables hostname matching but still verifies the chain", async (t) => {
  await withLoop(async (loop) => {
    const [server, port] = await tlsEchoServer(loop);
    // The certificate names localhost and 127.0.0.1, not this (v4-mapped) address.
    const host = '::ffff:127.0.0.1';
    await t.throwsAsync(loop.createConnection(() => new Collector(loop), host, port, { ssl: clientContext }), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    const [transport] = await loop.createConnection(() => new Collector(loop), host, port, {
      ssl: clientContext,
      serverHostname: '',
    });
    t.true(transport.getExtraInfo('peercert') !== null);
    transport.close();
    await t.throwsAsync(loop.createConnection(() => new Collector(loop), '127.0.0.1', port, { ssl: true, serverHostname: '' }), {
      message: /self.signed/i,
    });
    await closeServer(server);
  });
});

test.serial('ssl without a host requires serverHostname', async (t) => {
  await withLoop(async (loop) => {
    t.throws(() => loop.createUnixConnection(() => new Collector(loop), '/nonexistent', { ssl: clientContext }), {
      instanceOf: TypeError,
      message: /serverHostname/,
    });
  });
});

test.serial('TLS works over UNIX sockets', async (t) => {
  await withLoop(async (loop) => {
    const sockPath = path.join(dir, 'tls.sock');
    const server = await loop.createUnixServer(() => new EchoProtocol(), sockPath, { ssl: serverContext });
    const [transport, client] = await loop.createUnixConnection(() => new Collector(loop), sockPath, {
      ssl: clientContext,
      serverHostname: 'localhost',
    });
    transport.write(Buffer.from('over unix'));
    transport.writeEof();
    t.is(await client.lost, null);
    t.is(Buffer.concat(client.chunks).toString(), 'over unix');
    await closeServer(server);
  });
});

test.serial('a client that fails the handshake is dropped without harming the server', async (t) => {
  await withLoop(async (loop) => {
    const [server, port] = await tlsEchoServer(loop);
    const plain = net.connect(port, '127.0.0.1');
    plain.write('GET / HTTP/1.0\r\n\r\n');
    await new Promise((resolve) => plain.once('close', resolve).resume());
    const [, client] = await loop.createConnection(() => new Collector(loop), '127.0.0.1', port, {
      ssl: clientContext,
    });
    t.is(await client.echo('still serving'), 'still serving');
    await closeServer(server);
  });
});
