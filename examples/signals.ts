/**
 * The seed's "Set signal handlers for SIGINT and SIGTERM": the loop runs
 * until one of them arrives; its handler runs as a loop callback.
 */
import { getEventLoop } from 'multiloop';

const loop = getEventLoop();

function askExit(signame: string): void {
  console.log(`got signal ${signame}: exit`);
  loop.stop();
}

for (const signame of ['SIGINT', 'SIGTERM']) {
  loop.addSignalHandler(signame, askExit, signame);
}

console.log('Event loop running forever, press CTRL+c to interrupt.');
console.log(`pid ${process.pid}: send SIGINT or SIGTERM to exit.`);
try {
  await loop.runForever();
} finally {
  loop.close();
}
