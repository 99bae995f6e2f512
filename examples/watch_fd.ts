/**
 * The seed's "Watch a file descriptor for read events": wait until a socket
 * of a socketpair receives some data with addReader(), then stop the loop.
 */
import { getEventLoop, socketpair } from 'multiloop';

// Create a pair of connected sockets
const [rsock, wsock] = socketpair();
const loop = getEventLoop();

function reader(): void {
  const data = rsock.recv(100);
  console.log('Received:', data.toString());
  // We are done: unregister the file descriptor
  loop.removeReader(rsock);
  // Stop the event loop
  loop.stop();
}

// Register the file descriptor for read event
loop.addReader(rsock, reader);
// Simulate the reception of data from the network
loop.callSoon(() => wsock.send(Buffer.from('abc')));
// Run the event loop
await loop.runForever();
// We are done, close sockets and the event loop
rsock.close();
wsock.close();
loop.close();
