/**
 * ReadyQueue: the FIFO of handles to run in the loop's next iteration.
 *
 * A growable circular buffer: `Array.prototype.shift` is O(n) once V8 gives
 * up on its left-trimming trick, and the ready queue is the hottest
 * structure of the loop (a callSoon chain pushes and pops once per call).
 */
export class ReadyQueue<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;
  private mask: number;

  constructor(initialCapacity = 1024) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity <<= 1;
    this.items = new Array<T | undefined>(capacity);
    this.mask = capacity - 1;
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count > this.mask) this.grow();
    this.items[(this.head + this.count) & this.mask] = item;
    this.count++;
  }

  /** Removes and returns the oldest item; the caller checks `length` first. */
  shift(): T {
    const items = this.items;
    const item = items[this.head] as T;
    items[this.head] = undefined; // let the handle be collected once run
    this.head = (this.head + 1) & this.mask;
    this.count--;
    return item;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  private grow(): void {
    const old = this.items;
    const capacity = old.length * 2;
    const items = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.count; i++) items[i] = old[(this.head + i) & this.mask];
    this.items = items;
    this.head = 0;
    this.mask = capacity - 1;
  }
}
