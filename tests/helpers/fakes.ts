import { createHash, randomUUID } from 'node:crypto';
import { LockTimeoutError, SqlError } from '../../functions/core/errors';
import {
  LeaseLostError,
  type CurrentObject,
  PreconditionFailedError,
  type DatabaseFileInspector,
  type EngineRequest,
  type GetResult,
  type HeldLease,
  type IdempotencyRecord,
  type IdempotencyStore,
  type Lease,
  type Inspection,
  type LeaseLock,
  type ListedObject,
  type ObjectArchive,
  type ObjectStore,
  type ObjectVersion,
  type Page,
  type PresignedRequest,
  type Program,
  type Publication,
  type PutCondition,
  type ReadOutcome,
  type SqlEngine,
  type StatementResult,
  type StoredVersion,
  type VersionRecord,
  type WriteOutcome,
  type WriteStamp,
} from '../../functions/core/ports';

/**
 * In-memory fakes of the core's ports, small enough to read in one sitting. Each records the
 * requests it served (to assert request counts) and has fault hooks as plain function fields:
 * a hook wraps the real operation, so it can fail before it, after it (a lost reply), or let it
 * land later.
 */

/** DatabaseService options for tests on these fakes: a long renew interval (no timers fire), small limits. */
export const SERVICE_OPTIONS = {
  keyPrefix: 'databases/',
  answerPrefix: 'idempotency/',
  eventualMaxAgeMs: 5_000,
  limits: { maxStatements: 100, maxResultBytes: 1_000_000, maxDatabaseBytes: 1_000_000 },
  leaseRenewIntervalMs: 60_000,
  leaseSafetyMarginMs: 2_000,
};

export class FakeClock {
  constructor(public nowMs = Date.parse('2026-11-30T00:00:00Z')) {}
  readonly now = () => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

interface StoredObject {
  version: StoredVersion;
  body: Uint8Array;
  stamp?: WriteStamp;
  lastModifiedMs: number;
  deleteMarker?: true;
}

type Operation<T> = () => Promise<T>;

/** The object store and its archive side (history, listings, copies, delete markers, presigning). */
export class FakeObjectStore implements ObjectStore, ObjectArchive {
  readonly objects = new Map<string, StoredObject[]>();
  readonly blobs = new Map<string, Uint8Array>();
  readonly requests: string[] = [];
  private nextVersion = 1;
  onPut?: (store: Operation<StoredVersion>, body: Uint8Array, condition: PutCondition) => Promise<StoredVersion>;
  onHead?: (head: Operation<CurrentObject | undefined>) => Promise<CurrentObject | undefined>;
  onGet?: (get: Operation<GetResult>) => Promise<GetResult>;
  /** Bodies that passed through `getVersion` / `getBlob`, to show a copy never did. */
  bytesRead = 0;

  /** S3 keeps times to the second: so does the fake, so ties are real. */
  constructor(private readonly clock: () => number = Date.now) {}

  get(key: string, options: { ifNoneMatch?: string } = {}): Promise<GetResult> {
    this.requests.push('get');
    const get = async (): Promise<GetResult> => {
      const latest = this.latest(key);
      if (!latest) return { kind: 'not_found' };
      if (options.ifNoneMatch === latest.version.etag) return { kind: 'not_modified' };
      return { kind: 'found', body: latest.body.slice(), version: latest.version };
    };
    return this.onGet ? this.onGet(get) : get();
  }

  async getVersion(key: string, version: StoredVersion): Promise<Uint8Array> {
    this.requests.push('getVersion');
    const found = (this.objects.get(key) ?? []).find((o) => o.version.versionId === version.versionId && !o.deleteMarker);
    if (!found) throw new Error(`no version ${version.versionId} of ${key}`);
    this.bytesRead += found.body.byteLength;
    return found.body.slice();
  }

  put(key: string, body: Uint8Array, condition: PutCondition, stamp: WriteStamp): Promise<StoredVersion> {
    this.requests.push('put');
    const store = async () => {
      this.assertCondition(key, condition);
      return this.storeDirectly(key, body, stamp);
    };
    return this.onPut ? this.onPut(store, body, condition) : store();
  }

  head(key: string): Promise<CurrentObject | undefined> {
    this.requests.push('head');
    const head = async (): Promise<CurrentObject | undefined> => {
      const top = this.objects.get(key)?.at(-1);
      if (!top) return undefined;
      return top.deleteMarker ? { ...top.version, deleted: true } : { ...top.version, stamp: top.stamp };
    };
    return this.onHead ? this.onHead(head) : head();
  }

  async putBlob(key: string, body: Uint8Array): Promise<void> {
    this.requests.push('putBlob');
    this.blobs.set(key, body.slice());
  }

  async getBlob(key: string): Promise<Uint8Array | undefined> {
    this.requests.push('getBlob');
    const body = this.blobs.get(key);
    this.bytesRead += body?.byteLength ?? 0;
    return body?.slice();
  }

  async listVersions(key: string, page: { limit: number; before?: string }): Promise<Page<ObjectVersion>> {
    this.requests.push('listVersions');
    const newestFirst = [...(this.objects.get(key) ?? [])].reverse();
    const start = page.before === undefined ? 0 : newestFirst.findIndex((o) => o.version.versionId === page.before) + 1;
    const slice = newestFirst.slice(start, start + page.limit);
    const items = slice.map((o) => ({
      etag: o.version.etag,
      versionId: o.version.versionId!,
      lastModifiedMs: o.lastModifiedMs,
      sizeBytes: o.body.byteLength,
      deleteMarker: o.deleteMarker === true,
    }));
    return { items, next: start + page.limit < newestFirst.length ? slice.at(-1)?.version.versionId : undefined };
  }

  async stampOf(key: string, version: StoredVersion): Promise<WriteStamp | undefined> {
    this.requests.push('stampOf');
    return (this.objects.get(key) ?? []).find((o) => o.version.versionId === version.versionId)?.stamp;
  }

  async listObjects(prefix: string, page: { limit: number; cursor?: string; includeDeleted: boolean }): Promise<Page<ListedObject>> {
    this.requests.push('listObjects');
    const listed = [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix) && (page.cursor === undefined || key > page.cursor))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, versions]) => ({ key, top: versions.at(-1)! }))
      .filter(({ top }) => page.includeDeleted || !top.deleteMarker)
      .map(({ key, top }) => ({ key, sizeBytes: top.body.byteLength, lastModifiedMs: top.lastModifiedMs, deleted: top.deleteMarker === true }));
    const items = listed.slice(0, page.limit);
    return { items, next: listed.length > page.limit ? items.at(-1)!.key : undefined };
  }

  async copy(from: { key: string; version: StoredVersion }, to: string, condition: PutCondition, stamp: WriteStamp): Promise<StoredVersion> {
    this.requests.push('copy');
    const source = (this.objects.get(from.key) ?? []).find((o) => o.version.versionId === from.version.versionId && !o.deleteMarker);
    if (!source) throw new Error(`no version ${from.version.versionId} of ${from.key}`);
    this.assertCondition(to, condition);
    return this.storeDirectly(to, source.body, stamp);
  }

  async markDeleted(key: string, ifMatch: string): Promise<StoredVersion> {
    this.requests.push('markDeleted');
    this.assertCondition(key, { ifMatch });
    const version = { etag: `delete-marker:v${this.nextVersion}`, versionId: `v${this.nextVersion++}` };
    this.objects.get(key)!.push({ version, body: new Uint8Array(), lastModifiedMs: this.wholeSeconds(), deleteMarker: true });
    return version;
  }

  async sizeOf(key: string): Promise<number | undefined> {
    this.requests.push('sizeOf');
    return this.blobs.get(key)?.byteLength;
  }

  async presignGet(key: string, version: StoredVersion | undefined, expiresInSeconds: number): Promise<PresignedRequest> {
    this.requests.push('presignGet');
    return { url: `fake://${key}?versionId=${version?.versionId ?? ''}`, expiresAtMs: this.clock() + expiresInSeconds * 1000 };
  }

  async presignUpload(key: string, maxBytes: number, expiresInSeconds: number): Promise<PresignedRequest> {
    this.requests.push('presignUpload');
    return { url: `fake://${key}`, fields: { key, 'content-length-range': `0,${maxBytes}` }, expiresAtMs: this.clock() + expiresInSeconds * 1000 };
  }

  /** Stores a version without any condition: what a writer that never publishes leaves behind. */
  storeDirectly(key: string, body: Uint8Array, stamp?: WriteStamp): StoredVersion {
    const version = { etag: `"${createHash('md5').update(body).digest('hex')}"`, versionId: `v${this.nextVersion++}` };
    const versions = this.objects.get(key) ?? [];
    versions.push({ version, body: body.slice(), stamp, lastModifiedMs: this.wholeSeconds() });
    this.objects.set(key, versions);
    return version;
  }

  /** The current object; undefined when there is none or a delete marker is on top (as S3 sees it). */
  latest(key: string): StoredObject | undefined {
    const top = this.objects.get(key)?.at(-1);
    return top?.deleteMarker ? undefined : top;
  }

  private assertCondition(key: string, condition: PutCondition): void {
    const latest = this.latest(key);
    if ('create' in condition ? latest !== undefined : latest?.version.etag !== condition.ifMatch) {
      throw new PreconditionFailedError(`conditional write to ${key} refused`);
    }
  }

  private wholeSeconds(): number {
    return Math.floor(this.clock() / 1000) * 1000;
  }

  count(kind: string): number {
    return this.requests.filter((r) => r === kind).length;
  }
}

interface LockItem {
  owner?: string;
  expiresAtMs?: number;
  record?: VersionRecord;
  recentKeys: Map<string, IdempotencyRecord>;
}

export class FakeLeaseLock implements LeaseLock {
  readonly items = new Map<string, LockItem>();
  readonly requests: string[] = [];
  onPublish?: (publish: Operation<void>, publication: Publication) => Promise<void>;
  onPublished?: (read: Operation<VersionRecord | undefined>) => Promise<VersionRecord | undefined>;

  constructor(
    private readonly clock: FakeClock,
    private readonly leaseMs = 30_000,
  ) {}

  async acquire(name: string): Promise<HeldLease> {
    this.requests.push('acquire');
    const item = this.item(name);
    const now = this.clock.now();
    if (item.owner !== undefined && item.expiresAtMs! >= now) throw new LockTimeoutError(`"${name}" is locked`, 1);
    item.owner = randomUUID();
    item.expiresAtMs = now + this.leaseMs;
    return { lease: { name, owner: item.owner, expiresAtMs: item.expiresAtMs }, published: item.record, recentKeys: [...item.recentKeys.values()] };
  }

  async renew(lease: Lease): Promise<Lease> {
    this.requests.push('renew');
    const item = this.item(lease.name);
    if (item.owner !== lease.owner) throw new LeaseLostError('lost');
    item.expiresAtMs = this.clock.now() + this.leaseMs;
    return { ...lease, expiresAtMs: item.expiresAtMs };
  }

  publish(lease: Lease, publication: Publication): Promise<void> {
    this.requests.push('publish');
    const publish = async () => {
      const item = this.item(lease.name);
      if (item.owner !== lease.owner || item.record?.writeId !== publication.base?.writeId) throw new LeaseLostError('condition failed');
      if (publication.next) item.record = publication.next;
      if (publication.key) item.recentKeys.set(publication.key.key, publication.key);
      for (const key of publication.forgetKeys ?? []) item.recentKeys.delete(key);
      if (!publication.keepLease) item.owner = item.expiresAtMs = undefined;
    };
    return this.onPublish ? this.onPublish(publish, publication) : publish();
  }

  async release(lease: Lease): Promise<void> {
    this.requests.push('release');
    const item = this.item(lease.name);
    if (item.owner === lease.owner) item.owner = item.expiresAtMs = undefined;
  }

  published(name: string): Promise<VersionRecord | undefined> {
    this.requests.push('published');
    const read = async () => this.item(name).record;
    return this.onPublished ? this.onPublished(read) : read();
  }

  async recentKey(name: string, key: string): Promise<IdempotencyRecord | undefined> {
    this.requests.push('recentKey');
    return this.item(name).recentKeys.get(key);
  }

  isLocked(name: string): boolean {
    return this.item(name).owner !== undefined;
  }

  count(kind: string): number {
    return this.requests.filter((r) => r === kind).length;
  }

  private item(name: string): LockItem {
    let item = this.items.get(name);
    if (!item) this.items.set(name, (item = { recentKeys: new Map() }));
    return item;
  }
}

export class FakeIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, IdempotencyRecord>();
  readonly requests: string[] = [];

  async find(database: string, key: string): Promise<IdempotencyRecord | undefined> {
    this.requests.push('find');
    return this.records.get(`${database}#${key}`);
  }

  async save(database: string, record: IdempotencyRecord): Promise<void> {
    this.requests.push('save');
    this.records.set(`${database}#${record.key}`, record);
  }
}

/**
 * A stand-in for SQLite with a tiny language over a list of strings (the database file is its
 * JSON): `SELECT` returns every item, `ADD x` appends x, `ENSURE x` appends x unless present
 * (a statement that writes but may change nothing), `DROP x` removes x, `FAIL` raises a SQL error. Statements are
 * separated by `;`. It keeps warm copies like the real engine, so tests can see when bytes are
 * fetched, and `restart()` drops them as a worker restart would.
 */
export class FakeEngine implements SqlEngine {
  private readonly warm = new Map<string, { version: StoredVersion; items: string[] }>();
  private readonly pending = new Map<string, { database: string; items: string[] }>();
  fetches = 0;
  /** Read jobs run, on whatever copy. */
  reads = 0;

  warmVersion(database: string): StoredVersion | undefined {
    return this.warm.get(database)?.version;
  }

  async firstStatementWrites(database: string, program: Program): Promise<boolean | undefined> {
    if (!this.warm.has(database)) return undefined;
    return writes(statementsOf(program)[0] ?? '');
  }

  async read(request: EngineRequest): Promise<ReadOutcome> {
    this.reads++;
    const items = await this.open(request);
    const results: StatementResult[] = [];
    const statements = statementsOf(request.program);
    for (const [index, statement] of statements.entries()) {
      if (writes(statement)) return { kind: 'writes', statementIndex: index };
      results.push(run(statement, items));
    }
    return { kind: 'done', results, stateDependent: false };
  }

  async write(request: EngineRequest): Promise<WriteOutcome> {
    const before = await this.open(request);
    const items = [...before];
    const results = statementsOf(request.program).map((statement) => run(statement, items));
    if (JSON.stringify(items) === JSON.stringify(before)) return { kind: 'done', results, changed: false };
    const writeId = randomUUID();
    this.pending.set(writeId, { database: request.database, items });
    this.warm.delete(request.database);
    return { kind: 'done', results, changed: true, writeId, bytes: encode(items) };
  }

  commitWrite(writeId: string, version: StoredVersion): void {
    const pending = this.pending.get(writeId);
    this.pending.delete(writeId);
    if (pending) this.warm.set(pending.database, { version, items: pending.items });
  }

  abandonWrite(writeId: string): void {
    this.pending.delete(writeId);
  }

  restart(): void {
    this.warm.clear();
    this.pending.clear();
  }

  async close(): Promise<void> {}

  private async open(request: EngineRequest): Promise<string[]> {
    const { source, database } = request;
    if (source.kind === 'empty') return [];
    const warm = this.warm.get(database);
    if (warm && warm.version.etag === source.version.etag) return warm.items;
    this.fetches++;
    const items = JSON.parse(Buffer.from(await source.fetch()).toString('utf8')) as string[];
    this.warm.set(database, { version: source.version, items });
    return items;
  }
}

export function encode(items: string[]): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(items)));
}

function statementsOf(program: Program): string[] {
  const text = program.kind === 'script' ? program.sql : program.statements.map((s) => s.sql).join(';');
  return text
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}

function writes(statement: string): boolean {
  return /^(ADD|ENSURE|DROP)\b/.test(statement);
}

function run(statement: string, items: string[]): StatementResult {
  const [verb, value = ''] = statement.split(/\s+/, 2);
  if (verb === 'SELECT') return { columns: ['item'], rows: items.map((item) => [item]), changes: 0, lastInsertRowid: null };
  if (verb === 'FAIL') throw new SqlError('no such table: nope');
  if (verb === 'ADD' || (verb === 'ENSURE' && !items.includes(value))) {
    items.push(value);
    return { columns: [], rows: [], changes: 1, lastInsertRowid: items.length };
  }
  if (verb === 'DROP' && items.includes(value)) {
    items.splice(items.indexOf(value), 1);
    return { columns: [], rows: [], changes: 1, lastInsertRowid: null };
  }
  if (verb === 'ENSURE' || verb === 'DROP') return { columns: [], rows: [], changes: 0, lastInsertRowid: null };
  throw new SqlError(`near "${verb}": syntax error`);
}

/**
 * Inspects files of the FakeEngine's format (a JSON array of strings) the way the real inspector
 * judges SQLite files: anything else is refused, and an item "WAL" stands for a WAL-mode header
 * that is converted.
 */
export class FakeInspector implements DatabaseFileInspector {
  async inspect(bytes: Uint8Array): Promise<Inspection> {
    let items: unknown;
    try {
      items = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      return { kind: 'refused', reason: 'not a database file' };
    }
    if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) return { kind: 'refused', reason: 'not a database file' };
    if (items.includes('REFUSED')) return { kind: 'refused', reason: 'its schema holds a refused statement' };
    const convertedFromWal = items.includes('WAL');
    return { kind: 'valid', bytes: convertedFromWal ? encode(items.filter((item) => item !== 'WAL')) : bytes, convertedFromWal, tables: 1 };
  }

  async dump(bytes: Uint8Array): Promise<Uint8Array> {
    return Buffer.from((JSON.parse(Buffer.from(bytes).toString('utf8')) as string[]).map((item) => `ADD ${item};`).join('\n'));
  }

  /** Runs a script of `ADD x;` lines (what dump writes) on an empty list; any other line fails, as bad SQL would. */
  async build(script: Uint8Array, maxBytes: number): Promise<Inspection> {
    const items: string[] = [];
    for (const line of Buffer.from(script).toString('utf8').split('\n').filter(Boolean)) {
      const item = /^ADD (.*);$/.exec(line)?.[1];
      if (item === undefined) return { kind: 'refused', reason: `its SQL failed: near "${line}"` };
      items.push(item);
    }
    const bytes = encode(items);
    if (bytes.byteLength > maxBytes) return { kind: 'refused', reason: 'the database it makes is too large' };
    return this.inspect(bytes);
  }
}
