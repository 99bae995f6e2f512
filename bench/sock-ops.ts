/**
 * bench:sock-ops — request/response round trips of 64 B over a loopback TCP
 * connection, client and echo server in one thread:
 *   - `sock_ops`: multiloop `sockRecv`/`sockSendall` in a Task (futures on
 *     the poll layer), the seed's low-level socket API;
 *   - `add_reader`: multiloop `addReader` callbacks doing raw recv/send (the
 *     poll layer alone);
 *   - `net`: plain Node `net` sockets (libuv streams), the reference.
 * The three run in interleaved rounds in one process, so that the load of a
 * shared machine weighs on each alike. Figures: round trips per second and
 * per CPU-second for each, and the ratios to Node `net`.
 */
import net from 'node:net';
import { IPPROTO_TCP, TCP_NODELAY, newEventLoop, socket, type EventLoop, type Socket } from '../runtime/index.js';
import { createReporter } from './report.js';

const ROUNDS = 5;
const ROUND_SECONDS = 0.3;
const MESSAGE = Buffer.alloc(64, 0x61);
const report = createReporter('sock-ops');

/** One way of doing round trips: `round(seconds)` returns how many it made. */
interface Contender {
  round(seconds: number): Promise<number>;
  close(): Promise<void>;
}

interface Totals {
  trips: number;
  wall: number;
  cpu: number;
}

/** A connected [client, accepted, listener] of multiloop Sockets on 127.0.0.1, Nagle off as for `net` below. */
async function connected(loop: EventLoop): Promise<[Socket, Socket, Socket]> {
  const listener = socket();
  listener.bind(['127.0.0.1', 0]);
  listener.listen();
  const client = socket();
  const [[conn]] = await loop.runUntilComplete(async () =>
    Promise.all([loop.sockAccept(listener), loop.sockConnect(client, listener.getsockname())]),
  );
  for (const s of [client, conn]) s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
  return [client, conn, listener];
}

async function sockOps(): Promise<Contender> {
  const loop = newEventLoop();
  const [client, conn, listener] = await connected(loop);
  const echo = async (): Promise<void> => {
    for (;;) {
      const data = await loop.sockRecv(conn, 65536);
      if (data.length === 0) return;
      await loop.sockSendall(conn, data);
    }
  };
  const server = loop.createTask(echo);
  return {
    round: (seconds) =>
      loop.runUntilComplete(async () => {
        let trips = 0;
        const deadline = loop.time() + seconds;
        while (loop.time() < deadline) {
          await loop.sockSendall(client, MESSAGE);
          let got = 0;
          while (got < MESSAGE.length) got += (await loop.sockRecv(client, 65536)).length;
          trips++;
        }
        return trips;
      }),
    async close() {
      client.close();
      await loop.runUntilComplete(server);
      for (const s of [conn, listener]) s.close();
      loop.close();
    },
  };
}

async function addReader(): Promise<Contender> {
  const loop = newEventLoop();
  const [client, conn, listener] = await connected(loop);
  loop.addReader(conn, () => conn.send(conn.recv(65536)));
  return {
    async round(seconds) {
      let trips = 0;
      let got = 0;
      const deadline = loop.time() + seconds;
      loop.addReader(client, () => {
        got += client.recv(65536).length;
        if (got < MESSAGE.length) return;
        got = 0;
        trips++;
        if (loop.time() < deadline) client.send(MESSAGE);
        else loop.stop();
      });
      client.send(MESSAGE);
      await loop.runForever();
      loop.removeReader(client);
      return trips;
    },
    async close() {
      loop.removeReader(conn);
      for (const s of [client, conn, listener]) s.close();
      loop.close();
    },
  };
}

async function nodeNet(): Promise<Contender> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('data', (data) => sock.write(data));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise((resolve) => client.once('connect', resolve));
  return {
    round: (seconds) =>
      new Promise<number>((resolve) => {
        let trips = 0;
        let got = 0;
        const deadline = performance.now() + seconds * 1000;
        const onData = (data: Buffer): void => {
          got += data.length;
          if (got < MESSAGE.length) return;
          got = 0;
          trips++;
          if (performance.now() < deadline) {
            client.write(MESSAGE);
          } else {
            client.off('data', onData);
            resolve(trips);
          }
        };
        client.on('data', onData);
        client.write(MESSAGE);
      }),
    async close() {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const contenders: [string, Contender][] = [
  ['net', await nodeNet()],
  ['sock_ops', await sockOps()],
  ['add_reader', await addReader()],
];
const totals = new Map<string, Totals>(contenders.map(([name]) => [name, { trips: 0, wall: 0, cpu: 0 }]));
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, contender] of contenders) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const trips = await contender.round(ROUND_SECONDS);
    const total = totals.get(name)!;
    total.wall += (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    total.cpu += (used.user + used.system) / 1e6;
    total.trips += trips;
  }
}
for (const [, contender] of contenders) await contender.close();

const reference = totals.get('net')!;
for (const [name, total] of totals) {
  report.figure(`${name}_roundtrips_per_s`, total.trips / total.wall, 'roundtrips/s');
  report.figure(`${name}_roundtrips_per_cpu_s`, total.trips / total.cpu, 'roundtrips/cpu-s');
  if (total !== reference) {
    report.figure(`${name}_vs_net`, total.trips / total.wall / (reference.trips / reference.wall), 'x');
    report.figure(`${name}_vs_net_per_cpu_s`, total.trips / total.cpu / (reference.trips / reference.cpu), 'x');
  }
}
report.table();
