/**
 * The seed's "Display the current date with callLater()": a callback that
 * prints the date every second for 5 seconds, then stops the loop.
 */
import { getEventLoop, type EventLoop } from 'multiloop';

function displayDate(endTime: number, loop: EventLoop): void {
  console.log(new Date().toISOString());
  if (loop.time() + 1.0 < endTime) loop.callLater(1, displayDate, endTime, loop);
  else loop.stop();
}

const loop = getEventLoop();
// Schedule the first call to displayDate()
const endTime = loop.time() + 5.0;
loop.callSoon(displayDate, endTime, loop);
// Settles when loop.stop() is called
await loop.runForever();
loop.close();
