/**
 * TimerQueue: the loop's timers, a binary min-heap ordered by deadline.
 *
 * Cancelled timers stay in the heap (removal from the middle is O(n)) and
 * are skipped when they reach the top. So that a mass of cancelled timers
 * cannot slow every push and pop, the heap is rebuilt without them once
 * they are more than half of it (asyncio does the same).
 */
import type { TimerHandle } from './handles.js';

const MIN_PURGE_SIZE = 100;

export class TimerQueue {
  private heap: TimerHandle[] = [];
  private cancelledCount = 0;

  get size(): number {
    return this.heap.length - this.cancelledCount;
  }

  push(timer: TimerHandle): void {
    const heap = this.heap;
    heap.push(timer);
    this.siftUp(heap.length - 1);
  }

  /** The deadline of the earliest live timer, or Infinity when there is none. */
  nextDeadline(): number {
    this.dropCancelledTop();
    return this.heap.length > 0 ? this.heap[0]!._when : Infinity;
  }

  /** Removes and passes to `sink` every live timer due at or before `now`, earliest first. */
  popDue(now: number, sink: (timer: TimerHandle) => void): void {
    const heap = this.heap;
    while (heap.length > 0) {
      const top = heap[0]!;
      if (top._cancelled) {
        this.popTop();
        this.cancelledCount--;
        top._scheduled = false;
        continue;
      }
      if (top._when > now) break;
      this.popTop();
      top._scheduled = false;
      sink(top);
    }
  }

  /** Called when a timer still in the heap is cancelled. */
  noteCancelled(): void {
    this.cancelledCount++;
    if (this.heap.length > MIN_PURGE_SIZE && this.cancelledCount * 2 > this.heap.length) this.purge();
  }

  clear(): void {
    for (const timer of this.heap) timer._scheduled = false;
    this.heap = [];
    this.cancelledCount = 0;
  }

  private dropCancelledTop(): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!._cancelled) {
      heap[0]!._scheduled = false;
      this.popTop();
      this.cancelledCount--;
    }
  }

  private purge(): void {
    const live: TimerHandle[] = [];
    for (const timer of this.heap) {
      if (timer._cancelled) timer._scheduled = false;
      else live.push(timer);
    }
    this.heap = live;
    this.cancelledCount = 0;
    for (let i = (live.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private popTop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const item = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent._when <= item._when) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = item;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const item = heap[index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      const right = child + 1;
      if (right < length && heap[right]!._when < heap[child]!._when) child = right;
      if (heap[child]!._when >= item._when) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = item;
  }
}
