/**
 * bench:cpu-sharing — do this machine's CPUs slow each other down?
 *
 * Times a compute loop (arithmetic over a 32 KiB array: it stays in the L1
 * cache, so it shares nothing with another core) alone, and while another
 * thread spins on a counter. On cores of their own the two times match;
 * on two hardware threads of one core (or vCPUs the host time-slices on
 * one core) the loop slows down, and so does every cross-thread figure
 * here: a producer and a consumer that both run then share one core's
 * work, and a cross-thread message costs about the sum of both sides'
 * single-thread costs instead of the larger one.
 *
 * Rounds alternate (alone, beside the spinner) after a warm-up; prints the
 * median of each, and their ratio `cpu_sharing_slowdown`. On the 2-vCPU VM
 * of bench/RESULTS.md it read from 0.87x to 1.94x within half an hour:
 * at times a busy sibling vCPU costs the other a third to a half of its
 * speed, at times the loop is as slow alone (the host's other load).
 */
import { Worker } from 'node:worker_threads';
import { createReporter } from './report.js';

const ROUNDS = 7;
const ITERATIONS = 30_000_000;
const report = createReporter('cpu-sharing');

function compute(): number {
  const cells = new Float64Array(4096);
  let x = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    x += cells[i & 4095]! * 1.0001 + (i >>> 3);
    cells[(i * 7) & 4095] = x;
  }
  return x;
}

function timeCompute(): number {
  const start = performance.now();
  compute();
  return performance.now() - start;
}

/** A thread that spins on a shared counter until told to stop, and says when it runs. */
async function startSpinner(): Promise<{ stop: () => Promise<void> }> {
  const control = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const control = new Int32Array(workerData);
     parentPort.postMessage('spinning');
     while (Atomics.load(control, 0) === 0) control[1]++;`,
    { eval: true, workerData: control.buffer },
  );
  await new Promise((resolve) => worker.once('message', resolve));
  return {
    stop: async () => {
      Atomics.store(control, 0, 1);
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

timeCompute();
const alone: number[] = [];
const beside: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  alone.push(timeCompute());
  const spinner = await startSpinner();
  beside.push(timeCompute());
  await spinner.stop();
}
report.figure('compute_alone', median(alone), 'ms');
report.figure('compute_beside_spinner', median(beside), 'ms');
report.figure('cpu_sharing_slowdown', median(beside) / median(alone), 'x');
report.table();
