/**
 * The seed's "Hello World with callSoon()": schedule a callback that
 * prints and stops the loop.
 */
import { getEventLoop, type EventLoop } from 'multiloop';

function helloWorld(loop: EventLoop): void {
  console.log('Hello World');
  loop.stop();
}

const loop = getEventLoop();
// Schedule a call to helloWorld()
loop.callSoon(helloWorld, loop);
// Settles when loop.stop() is called
await loop.runForever();
loop.close();
