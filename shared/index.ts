// multiloop/shared: the cross-thread layer, importable from any thread
// (executor tasks included) without loading an event loop.
export { LoopRef, type LoopRefData } from './loopref.js';
export { Ring, RingClosedError, DEFAULT_RING_CAPACITY } from './ring.js';
export { RingReader } from './ring_reader.js';
export { RingWriter } from './ring_writer.js';
export { Decoder, Encoder, decode, encode } from './codec.js';
export { WakeWord } from './wake.js';
