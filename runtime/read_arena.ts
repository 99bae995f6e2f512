/**
 * ReadArena: where the bytes a stream socket receives land.
 *
 * A read goes straight into the unused tail of a shared buffer (the
 * arena), and the Buffer returned is a view of exactly the bytes read: no
 * copy, one Buffer object per read. (Reading into a reused scratch buffer
 * and copying out into Node's pool cost ~600 ns per 1 KiB read here; a
 * view costs ~90 ns.) Arena space is handed out once and never reused, so
 * the bytes of a Buffer returned stay its own; an arena is freed when the
 * last Buffer that views it is.
 *
 * The price, as for Node's pooled `Buffer.allocUnsafe` (8 KiB pools): a
 * small Buffer kept for long keeps its whole arena (64 KiB) alive. Keep a
 * copy (`Buffer.from(data)`) of small pieces held for a long time.
 */
// Imported, not the global: `globalThis.Buffer` is a getter, which optimized code calls at every use (~25 ns per read here).
import { Buffer } from 'node:buffer';
import { markAsUntransferable } from 'node:worker_threads';
import { native } from '../native/index.js';

const ARENA_SIZE = 64 * 1024;
/**
 * A read asks for at most the arena's room. With less room than this left
 * (and less than the read asks for), a new arena is started instead of
 * cutting the read short.
 */
const MIN_ROOM = 8 * 1024;

let arena = newArena();
/** Bytes of `arena` handed out; a multiple of 8, so that every view starts 8-byte aligned, as Node's pool does. */
let used = 0;

/**
 * Receives up to `bufsize` bytes from the non-blocking socket `fd`: a
 * Buffer of the bytes read (empty at EOF), or null when none are available
 * now. A read may return fewer bytes than are waiting (no more than an
 * arena's room); the rest stays for the next read.
 */
export function receive(fd: number, bufsize: number): Buffer | null {
  if (bufsize > ARENA_SIZE) return receiveAlone(fd, bufsize);
  let room = ARENA_SIZE - used;
  if (room < bufsize && room < MIN_ROOM) {
    arena = newArena();
    used = 0;
    room = ARENA_SIZE;
  }
  const at = used;
  const n = native.recv(fd, arena, at, room < bufsize ? room : bufsize);
  if (n === null) return null;
  used = at + ((n + 7) & ~7);
  return Buffer.from(arena.buffer, at, n);
}

/**
 * A fresh arena. Its memory cannot be transferred to another thread (which
 * would detach it under every Buffer that views it, and under the reads to
 * come): a transfer list that names it copies it instead, as for Node's pool.
 */
function newArena(): Buffer {
  const buffer = Buffer.allocUnsafeSlow(ARENA_SIZE);
  markAsUntransferable(buffer.buffer);
  return buffer;
}

/** A read larger than an arena, into a buffer of its own. */
function receiveAlone(fd: number, bufsize: number): Buffer | null {
  const buffer = Buffer.allocUnsafe(bufsize);
  const n = native.recv(fd, buffer, 0, bufsize);
  if (n === null) return null;
  return n === bufsize ? buffer : buffer.subarray(0, n);
}
