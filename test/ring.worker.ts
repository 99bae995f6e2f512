/**
 * A producer thread for the ring tests: writes `count` records into the
 * ring, each the encoding of producer, seq (and a filler), then reports.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Encoder } from '../shared/codec.js';
import { Ring } from '../shared/ring.js';
import { RingWriter } from '../shared/ring_writer.js';
import { fillerFor, type ProducerJob, type ProducerReport } from './ring.fixture.js';

const job = workerData as ProducerJob;
const ring = Ring.from(job.buffer);
const report = (r: ProducerReport): void => parentPort!.postMessage(r);
const writer = new RingWriter(ring, (records, error) => report({ discarded: records, error: error.message }));
const encoder = new Encoder();
try {
  for (let seq = 0; seq < job.count; seq++) {
    encoder.reset();
    encoder.writeValue(job.producer);
    encoder.writeValue(seq);
    if (job.filler) encoder.writeValue(fillerFor(job.producer, seq, ring.capacity));
    writer.write(encoder.bytes(), job.mayBlock);
  }
  report({ done: true, spilled: writer.spilled });
} catch (err) {
  report({ error: (err as Error).name });
}
