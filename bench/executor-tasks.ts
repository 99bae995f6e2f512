/**
 * The work that bench:executor runs: a trivial task for raw Piscina (its
 * default export, Piscina's handler convention) and a CPU-bound one run
 * both inline and in the executor.
 */
import { createHash } from 'node:crypto';

export default function echo<T>(value: T): T {
  return value;
}

/** `rounds` chained SHA-256 digests of a 1 KiB block: CPU only, no allocation to speak of. */
export function hashRounds(rounds: number): string {
  const block = Buffer.alloc(1024, 1);
  let digest = '';
  for (let i = 0; i < rounds; i++) {
    const hash = createHash('sha256').update(block).digest();
    hash.copy(block);
    digest = hash.toString('hex');
  }
  return digest;
}
