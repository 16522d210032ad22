import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import type { Database, SqlJsStatic } from 'sql.js';
import { ResourceLimitError } from '../../core/errors';
import { sameStoredVersion, type StoredVersion } from '../../core/ports';
import { closeDatabase, configureConnection, firstStatementWrites, openDatabase, PAGE_CACHE_BYTES, runRead, runWrite, startSqlJs } from './sql-runner';
import {
  serializeError,
  type JobOutcome,
  type WarmChange,
  type WorkerJob,
  type WorkerMessage,
  type WorkerNotice,
  type WorkerReply,
  type WorkerSettings,
  type WorkerSource,
} from './worker-protocol';

/**
 * The worker thread that owns sql.js. sql.js runs synchronously, so a runaway statement can only
 * be stopped by terminating the thread that runs it; the main thread does that on timeout and
 * starts a fresh worker. This thread keeps the warm copies: one open database per name, tagged
 * with the stored version it came from. Every change to them is reported in the reply of the job
 * that made it (or, for a commit notice, known to the main thread when it sends it), so the main
 * thread's mirror is exact whenever it decides what to send.
 */

interface WarmCopy {
  version: StoredVersion;
  db: Database;
  /** File size: what the copy costs in memory. */
  bytes: number;
}

/**
 * From this size a received file is collected at once: below it, the copy left to V8 costs less
 * memory than a full collection costs time (a few ms).
 */
const COLLECT_AFTER_RECEIVING_BYTES = 8 * 1024 * 1024;

/**
 * V8's collector, for releaseReceivedBytes: `gc` where the process runs with --expose-gc, else
 * the one of a context made while that flag is briefly on. A worker cannot be given V8 flags
 * (`execArgv` rejects them) and a Lambda's command line is not ours. The flag is process-wide,
 * so a worker starting beside another may see it switched off again before its context is made:
 * it tries again, and after a few tries leaves the bytes to V8 (freed later, never kept).
 */
function garbageCollector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  for (let attempt = 0; attempt < 5; attempt++) {
    setFlagsFromString('--expose-gc');
    try {
      return runInNewContext('gc') as () => void;
    } catch {
      // Another worker switched the flag off in between.
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  return () => undefined;
}

const collectGarbage = garbageCollector();

/** Warm copies in least-recently-used order (a Map iterates in insertion order). */
const warm = new Map<string, WarmCopy>();
/** Written and committed here, but not yet known to be stored: never served to readers. */
const pendingWrites = new Map<string, { database: string; db: Database; bytes: number }>();
let settings: WorkerSettings;
/** Changes to `warm` during the current job, for its reply. */
let warmChanges: WarmChange[] = [];

function setWarm(database: string, copy: WarmCopy): void {
  const previous = warm.get(database);
  if (previous && previous.db !== copy.db) closeDatabase(previous.db);
  warm.delete(database);
  warm.set(database, copy);
}

function dropWarm(database: string, closeIt: boolean): void {
  const copy = warm.get(database);
  if (!copy) return;
  if (closeIt) closeDatabase(copy.db);
  warm.delete(database);
  warmChanges.push({ database });
}

/**
 * Keeps the warm copies within budget by closing the least recently used ones (never `keep`):
 * their files within the warm cache, and their page caches (each up to PAGE_CACHE_BYTES, in the
 * worker's one SQLite heap) within half that heap, the rest being the queries'. Otherwise many
 * tenants' copies, all within the cache, would leave no SQLite memory to run anything in.
 * Runs only at the end of a job, so a copy the main thread saw as warm when it sent a job is
 * still there when the job runs.
 */
function evictBeyondBudget(keep: string): void {
  const maxCopies = Math.max(1, Math.floor(settings.sqliteHeapLimitBytes / 2 / PAGE_CACHE_BYTES));
  let total = [...warm.values()].reduce((sum, copy) => sum + copy.bytes, 0);
  let copies = warm.size;
  for (const [database, copy] of warm) {
    if (total <= settings.warmCacheBytes && copies <= maxCopies) break;
    if (database === keep) continue;
    dropWarm(database, true);
    total -= copy.bytes;
    copies--;
  }
}

/** Opens the job's database; `warm` says whether it stays open after the job (it is the warm copy). */
function open(SQL: SqlJsStatic, database: string, source: WorkerSource): { db: Database; warm: boolean } {
  if (source.kind === 'empty') return { db: openDatabase(SQL), warm: false };
  if (source.kind === 'bytes') {
    const db = openDatabase(SQL, source.bytes);
    const bytes = source.bytes.byteLength;
    releaseReceivedBytes(source);
    setWarm(database, { version: source.version, db, bytes });
    warmChanges.push({ database, version: source.version });
    return { db, warm: true };
  }
  const copy = warm.get(database);
  if (!copy || !sameStoredVersion(copy.version, source.version)) {
    throw new Error(`the worker does not hold ${database} at the version the engine expected`);
  }
  setWarm(database, copy); // most recently used
  return { db: copy.db, warm: true };
}

/**
 * sql.js copies a file into its own memory when it opens it, so the bytes the main thread sent
 * are garbage from then on. Left to V8 they outlive the job, beside the open copy and, in a
 * write, beside the exported file: three copies of the database at once, the peak that decides
 * how large a database a function's memory can take. A large file is therefore collected at
 * once: two passes, because the first hands the freed buffers to a concurrent sweeper and the
 * second waits for it. That costs a few ms, next to the download of tens of MB it follows.
 */
function releaseReceivedBytes(source: { bytes?: Uint8Array }): void {
  const received = source.bytes?.byteLength ?? 0;
  source.bytes = undefined;
  if (received < COLLECT_AFTER_RECEIVING_BYTES) return;
  collectGarbage();
  collectGarbage();
}

function run(SQL: SqlJsStatic, job: WorkerJob): JobOutcome {
  const opened = open(SQL, job.database, job.source);
  let keepOpen = opened.warm;
  try {
    if (job.type === 'classify') return { kind: 'classified', writes: firstStatementWrites(opened.db, job.program) };
    if (job.type === 'read') return runRead(opened.db, job.program, job.limits);
    const { results, changed } = runWrite(opened.db, job.program, job.limits);
    if (!changed) return { kind: 'done', results, changed: false };
    // From here the copy holds data that may never be stored: take it out of the warm slot so
    // no reader sees it until the main thread reports the upload succeeded.
    if (opened.warm) dropWarm(job.database, false);
    const bytes = opened.db.export();
    configureConnection(opened.db); // export() reopened the file with default settings
    pendingWrites.set(job.writeId, { database: job.database, db: opened.db, bytes: bytes.byteLength });
    keepOpen = true;
    return { kind: 'done', results, changed: true, writeId: job.writeId, bytes };
  } finally {
    if (!keepOpen) closeDatabase(opened.db);
  }
}

/**
 * Runs a job; if SQLite runs out of memory while other databases' copies are warm, closes those
 * and runs it once more. Their page caches and schemas live in the same SQLite heap, which the
 * warm budget can only estimate (a tenant's schema of thousands of columns is not 2 MB), so a
 * tenant must not be refused for memory its neighbours' idle copies hold.
 */
function runMakingRoom(SQL: SqlJsStatic, job: WorkerJob): JobOutcome {
  try {
    return run(SQL, job);
  } catch (error) {
    if (!(error instanceof ResourceLimitError)) throw error;
    const again = retryOf(job);
    if (!again || !dropOtherCopies(job.database)) throw error;
    return run(SQL, again);
  }
}

/**
 * The job to run again: on the copy its first run left warm (bytes it was sent are released
 * once opened), else as it was. None when its copy is gone: a write that failed after its
 * commit was taken out of the warm slot, and must not be applied twice.
 */
function retryOf(job: WorkerJob): WorkerJob | undefined {
  const { source } = job;
  if (source.kind === 'bytes' && source.bytes === undefined) {
    const copy = warm.get(job.database);
    return copy && sameStoredVersion(copy.version, source.version) ? { ...job, source: { kind: 'warm', version: copy.version } } : undefined;
  }
  if (source.kind === 'warm' && !warm.has(job.database)) return undefined;
  return job;
}

function dropOtherCopies(keep: string): boolean {
  const others = [...warm.keys()].filter((database) => database !== keep);
  for (const database of others) dropWarm(database, true);
  return others.length > 0;
}

/** The main thread records a commit in its mirror when it sends the notice: no reply is needed. */
function handleNotice(notice: WorkerNotice): void {
  const pending = pendingWrites.get(notice.writeId);
  if (!pending) return;
  pendingWrites.delete(notice.writeId);
  if (notice.type === 'commit') setWarm(pending.database, { version: notice.version, db: pending.db, bytes: pending.bytes });
  else closeDatabase(pending.db);
}

async function main(): Promise<void> {
  settings = workerData as WorkerSettings;
  const SQL = await startSqlJs(settings.wasmPath, settings.sqliteHeapLimitBytes);

  const port = parentPort!;
  port.on('message', (message: WorkerMessage) => {
    if (message.type === 'commit' || message.type === 'abandon') {
      handleNotice(message);
      return;
    }
    port.postMessage({ type: 'started', id: message.id } satisfies WorkerReply);
    warmChanges = [];
    let reply: WorkerReply;
    const transfer: ArrayBuffer[] = [];
    try {
      const outcome = runMakingRoom(SQL, message);
      if ('bytes' in outcome) transfer.push(outcome.bytes.buffer as ArrayBuffer);
      evictBeyondBudget(message.database);
      reply = { type: 'finished', id: message.id, warmChanges, ok: true, outcome };
    } catch (error) {
      evictBeyondBudget(message.database);
      reply = { type: 'finished', id: message.id, warmChanges, ok: false, error: serializeError(error) };
    }
    port.postMessage(reply, transfer);
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

void main();
