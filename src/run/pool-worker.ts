/**
 * One thread of the pool in pool.ts: simulates the points it is handed, one at a time, and answers each with the
 * point's result and event log, or with the error it threw (as data, keeping its kind). Run bundled: dist/pool-worker.js.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { defaultCatalog } from '../catalog/load.js';
import type { Catalog } from '../spec/catalog.js';
import { runPoint } from '../serving/simulate.js';
import { encodeError, type Reply, type Task, type WorkerInit } from './pool.js';

const port = parentPort;
if (!port) throw new Error('pool-worker.js runs as a worker thread of nixlsim run, not on its own');

let catalog: Catalog | undefined = (workerData as WorkerInit | null)?.catalog;

port.on('message', (task: Task) => {
  let reply: Reply;
  try {
    catalog ??= defaultCatalog();
    if (task.overrides) {
      // A sample or a sensitivity run: only its numbers matter (the nominal run's log is the point's).
      const { result } = runPoint(task.point, catalog, { ...task.overrides, maxLogLines: 0 });
      reply = { index: task.index, ok: true, outcome: { result } };
    } else {
      const { result, log } = runPoint(task.point, catalog);
      reply = { index: task.index, ok: true, outcome: { result, log: { lines: log.lines(), total: log.total, dropped: log.dropped } } };
    }
    port.postMessage(reply);
  } catch (err) {
    // A UserError (the deployment is impossible), a bug, or a result that cannot be cloned: all go back as data.
    reply = { index: task.index, ok: false, error: encodeError(err) };
    port.postMessage(reply);
  }
});
