import { parentPort, workerData } from 'node:worker_threads';
import { buildFromScript, dumpFile, inspectFile } from './file-inspection';
import { startSqlJs } from './sql-runner';
import { serializeError } from './worker-protocol';
import type { FileJob, FileJobReply, FileWorkerSettings } from './database-file-inspector';

/**
 * A thread for one inspection, one dump or one build from a dump (database-file-inspector.ts starts it and ends it). It runs
 * SQLite over a file nobody vouches for, so it never shares a thread with the service: a
 * CHECK constraint that computes for minutes, or a view that never finishes, is stopped by
 * terminating this thread, and the service keeps answering meanwhile.
 */
async function main(): Promise<void> {
  const settings = workerData as FileWorkerSettings;
  // A zeroblob or group_concat bomb in the file fails with "out of memory".
  const SQL = await startSqlJs(settings.wasmPath, settings.sqliteHeapLimitBytes);
  const port = parentPort!;
  port.once('message', (job: FileJob) => {
    const answer = (reply: FileJobReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
    try {
      if (job.op === 'inspect' || job.op === 'build') {
        const inspection = job.op === 'inspect' ? inspectFile(SQL, job.bytes) : buildFromScript(SQL, job, job.maxBytes);
        answer({ ok: true, inspection }, inspection.kind === 'valid' ? [inspection.bytes.buffer as ArrayBuffer] : []);
      } else {
        const dump = dumpFile(SQL, job, settings.maxDumpBytes);
        answer({ ok: true, dump }, [dump.buffer as ArrayBuffer]);
      }
    } catch (error) {
      answer({ ok: false, error: serializeError(error) });
    }
  });
}

void main();
