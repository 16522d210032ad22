import { createHash, randomUUID } from 'node:crypto';
import { assertDatabaseName, DATABASE_NAME_PATTERN } from './database-name';
import type { Change, Changed, DatabaseService, PastState, PastVersions, SqlResponse, VersionSelector } from './database-service';
import { BadRequestError, DatabaseExistsError, DatabaseNotFoundError, InvalidDatabaseFileError, PayloadTooLargeError, VersionNotFoundError } from './errors';
import type {
  DatabaseFileInspector,
  LeaseLock,
  ListedObject,
  MadeBy,
  ObjectArchive,
  ObjectStore,
  ObjectVersion,
  PresignedRequest,
  SqlValue,
  StatementResult,
  StoredVersion,
  VersionRecord,
} from './ports';
import { matchesDatabase } from './principal';
import { quoteIdentifier } from './sql-quoting';

/**
 * Databases as a whole: list, describe, their version history, reads and restores of past
 * versions, export, import, clone and delete. Every change runs as a `Change` on the one write
 * path (`DatabaseService.change`): under the lease, fenced in S3, published with its
 * idempotency record. History is never rewritten: a restore, an import and a delete each add a
 * version (a delete adds a delete marker), and S3 keeps the replaced ones for the restore window.
 */

export interface LifecycleOptions {
  /** A database named `x` lives at `${keyPrefix}x.sqlite`. */
  keyPrefix: string;
  /** Where presigned uploads land before an import validates them (expired by a lifecycle rule). */
  stagingPrefix: string;
  /** Where SQL dumps too large to answer inline are kept for their presigned download (expired too). */
  exportPrefix: string;
  maxDatabaseBytes: number;
  /**
   * Exports up to this size travel in the HTTP answer, larger ones through presigned URLs. Counted
   * as the answer carries them: a file base64-encoded, a SQL dump as a JSON string (where quotes,
   * backslashes and line breaks take two bytes).
   */
  inlineTransferBytes: number;
  presignExpirySeconds: number;
  /** Row counts in `info` stop at this many rows per table, so a huge table costs a bounded scan. */
  rowCountLimit: number;
  /** How long S3 keeps replaced versions (the noncurrent-version lifecycle rule). */
  restoreWindowDays: number;
}

export interface LifecycleDeps {
  service: DatabaseService;
  /** The committed versions; the service reads past versions through the same history. */
  history: VersionHistory;
  store: ObjectStore;
  archive: ObjectArchive;
  lock: LeaseLock;
  inspector: DatabaseFileInspector;
}

/** Who asks, for changes: recorded with the version and, with a key, applied at most once. */
export interface ChangeContext {
  idempotencyKey?: string;
  madeBy?: MadeBy;
  /** Told when the change starts (Change.onChanging). */
  onChanging?: () => void;
}

/** What an import holds: a database file, or a SQL script (a dump) that makes one. */
export type ImportFormat = 'sqlite' | 'sql';

export interface DatabaseSummary {
  name: string;
  size_bytes: number;
  version: string | null;
  last_modified: string;
  deleted?: true;
}

export interface VersionEntry {
  version: string;
  time: string;
  size_bytes: number;
  current: boolean;
  deleted: boolean;
  made_by?: { key_id?: string; request_id?: string };
}

export type Transfer = { kind: 'inline'; body: Uint8Array | string } | { kind: 'presigned'; request: PresignedRequest };

export interface ChangeAnswer {
  version: string | null;
  replayed?: true;
  fields: Record<string, SqlValue>;
}

const LIST_PAGE_MAX = 1000;
const VERSIONS_PAGE = 100;

/**
 * The committed history of each database, newest first. A version S3 holds above the published
 * record was stored by a writer that never published it: it is not (yet) part of the history.
 */
export class VersionHistory implements PastVersions {
  constructor(
    private readonly archive: ObjectArchive,
    private readonly lock: LeaseLock,
    private readonly keyPrefix: string,
  ) {}

  /** Committed versions newest first, starting after `before`; each says whether it is current. */
  async *walk(database: string, before?: string): AsyncGenerator<ObjectVersion & { current: boolean }> {
    const record = await this.lock.published(database);
    let walked = false;
    for await (const version of this.walkFrom(database, record, before)) {
      walked = true;
      yield version;
    }
    // The record names a version S3 no longer holds: it expired (restore window) under a version a
    // writer stored but never published, which the next writer adopts. That one is current.
    if (!walked && record && !record.deleted && before === undefined) yield* this.walkFrom(database, undefined, undefined);
  }

  private async *walkFrom(database: string, record: VersionRecord | undefined, before: string | undefined): AsyncGenerator<ObjectVersion & { current: boolean }> {
    const key = keyOf(this.keyPrefix, database);
    // Without a record (a database written before records existed) the latest object is current.
    let reachedCurrent = before !== undefined || record === undefined;
    let first = before === undefined;
    let cursor = before;
    do {
      const page = await this.archive.listVersions(key, { limit: VERSIONS_PAGE, before: cursor });
      for (const version of page.items) {
        const isCurrent = record ? sameVersion(version, record) : first;
        first = false;
        if (!reachedCurrent && !isCurrent) continue;
        reachedCurrent = true;
        yield { ...version, current: isCurrent };
      }
      cursor = page.next;
    } while (cursor !== undefined);
  }

  /** The committed version a selector names: a version id, or the newest at or before a time. */
  async find(database: string, selector: VersionSelector): Promise<ObjectVersion & { current: boolean }> {
    for await (const version of this.walk(database)) {
      const matches = 'version' in selector ? version.versionId === selector.version : version.lastModifiedMs <= selector.asOfMs;
      if (!matches) continue;
      if (version.deleteMarker) throw new VersionNotFoundError(`database "${database}" was deleted at that point of its history`);
      return version;
    }
    throw new VersionNotFoundError(
      'version' in selector
        ? `database "${database}" has no committed version "${selector.version}" (versions older than the restore window are gone)`
        : `database "${database}" has no version at or before ${new Date(selector.asOfMs).toISOString()}`,
    );
  }

  async resolve(database: string, selector: VersionSelector): Promise<StoredVersion> {
    const found = await this.find(database, selector);
    return { etag: found.etag, versionId: found.versionId };
  }
}

export class DatabaseLifecycle {
  readonly history: VersionHistory;

  constructor(
    private readonly options: LifecycleOptions,
    private readonly deps: LifecycleDeps,
  ) {
    this.history = deps.history;
  }

  /**
   * Databases in key order that match one of `patterns` (a key's scope: `acme-*`, `shop`);
   * deleted ones only when asked. S3 is listed only under the fixed start of each pattern, in
   * turn, so a page costs about one listing per pattern (a pattern starting with `*` lists the
   * whole bucket). A page is filled from as many listings as it takes, and its cursor is always
   * a name in scope, so paging never shows a caller a name it may not see.
   */
  async list(page: { limit: number; cursor?: string; includeDeleted: boolean; patterns: readonly string[] }): Promise<{ databases: DatabaseSummary[]; next_cursor: string | null }> {
    const limit = Math.min(Math.max(1, page.limit), LIST_PAGE_MAX);
    const inScope = (name: string) => page.patterns.some((pattern) => matchesDatabase(pattern, name));
    const cursorKey = page.cursor === undefined ? undefined : keyOf(this.options.keyPrefix, page.cursor);
    const databases: DatabaseSummary[] = [];
    const prefixes = listingPrefixes(this.options.keyPrefix, page.patterns);
    for (const [index, prefix] of prefixes.entries()) {
      let resumeAfter = cursorKey;
      let first = true;
      do {
        // The first listing asks for a page; later ones, past names out of scope, for all S3 gives.
        const listed = await this.deps.archive.listObjects(prefix, { limit: first ? limit : LIST_PAGE_MAX, cursor: resumeAfter, includeDeleted: page.includeDeleted });
        first = false;
        const named = listed.items.flatMap((object) => {
          const name = nameOf(this.options.keyPrefix, object.key);
          return name !== undefined && inScope(name) ? [{ name, object }] : [];
        });
        for (let examined = 0; examined < named.length; ) {
          const chunk = named.slice(examined, examined + limit - databases.length);
          examined += chunk.length;
          const summaries = await Promise.all(chunk.map(({ name, object }) => this.summaryOf(name, object, page.includeDeleted)));
          databases.push(...summaries.filter((summary): summary is DatabaseSummary => summary !== undefined));
          if (databases.length === limit) {
            const more = examined < named.length || listed.next !== undefined || index < prefixes.length - 1;
            return { databases, next_cursor: more ? chunk.at(-1)!.name : null };
          }
        }
        resumeAfter = listed.next;
      } while (resumeAfter !== undefined);
    }
    return { databases, next_cursor: null };
  }

  private async summaryOf(name: string, object: ListedObject, includeDeleted: boolean): Promise<DatabaseSummary | undefined> {
    const record = await this.deps.lock.published(name);
    const deleted = record ? record.deleted === true : object.deleted;
    if (deleted && !includeDeleted) return undefined;
    const version = record ? versionName(record.version) : ((await this.deps.store.head(object.key))?.versionId ?? null);
    return {
      name,
      size_bytes: deleted ? 0 : object.sizeBytes,
      version,
      last_modified: new Date(object.lastModifiedMs).toISOString(),
      ...(deleted && { deleted: true as const }),
    };
  }

  /** One database: its current version, its tables with row counts up to a bound, its views and virtual tables. */
  async info(database: string) {
    assertDatabaseName(database);
    const current = await this.currentVersion(database);
    // Both reads run on the version just found: no second or third walk of the history.
    const at = { stored: { etag: current.etag, versionId: current.versionId } };
    const schema = await this.read(
      database,
      at,
      "SELECT CASE WHEN type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%' THEN 'virtual' ELSE type END, name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    );
    const objects = schema.results[0]!.rows.map(([type, name]) => ({ type: String(type), name: String(name) }));
    const named = (type: string) => objects.filter((o) => o.type === type).map((o) => ({ name: o.name }));
    const tables = objects.filter((o) => o.type === 'table').map((o) => o.name);
    const limit = this.options.rowCountLimit;
    // Tables only: a view is a query, and counting its rows could take as long as it runs (or
    // fail, if it names a table dropped since); some virtual tables cannot be scanned at all (a
    // contentless FTS4 table answers only MATCH). Both are named, never run, here.
    const counts =
      tables.length === 0
        ? []
        : (await this.read(database, at, tables.map((name) => `SELECT count(*) FROM (SELECT 1 FROM ${quoteIdentifier(name)} LIMIT ${limit + 1})`))).results.map((r) =>
            Number(r.rows[0]![0]),
          );
    return {
      ...summaryOf(database, current),
      tables: tables.map((name, i) => ({ name, rows: Math.min(counts[i]!, limit), rows_capped: counts[i]! > limit })),
      views: named('view'),
      virtual_tables: named('virtual'),
      row_count_limit: limit,
    };
  }

  /** Committed versions newest first; `before` continues a page. */
  async versions(database: string, page: { limit: number; before?: string }) {
    assertDatabaseName(database);
    const limit = Math.min(Math.max(1, page.limit), VERSIONS_PAGE);
    const found: (ObjectVersion & { current: boolean })[] = [];
    let more = false;
    for await (const version of this.history.walk(database, page.before)) {
      if (found.length === limit) {
        more = true;
        break;
      }
      found.push(version);
    }
    if (found.length === 0 && page.before === undefined) throw new DatabaseNotFoundError(database);
    const key = this.keyOf(database);
    const entries = await Promise.all(
      found.map(async (v): Promise<VersionEntry> => {
        const madeBy = v.deleteMarker ? undefined : (await this.deps.archive.stampOf(key, v))?.madeBy;
        return {
          version: v.versionId,
          time: new Date(v.lastModifiedMs).toISOString(),
          size_bytes: v.sizeBytes,
          current: v.current,
          deleted: v.deleteMarker,
          ...(madeBy && { made_by: { key_id: madeBy.keyId, request_id: madeBy.requestId } }),
        };
      }),
    );
    return { versions: entries, next_before: more ? found.at(-1)!.versionId : null, restore_window_days: this.options.restoreWindowDays };
  }

  /** Makes a past state current as a new version; restoring the answer's `replaced` undoes it. */
  async restore(database: string, selector: VersionSelector, context: ChangeContext): Promise<ChangeAnswer> {
    assertDatabaseName(database);
    const key = this.keyOf(database);
    return this.change({
      database,
      meaning: { kind: 'restore', ...selector },
      ...context,
      revivesDeleted: true,
      produce: async (base) => {
        const chosen = await this.history.find(database, selector);
        const replaced = base.kind === 'stored' ? versionName(base.version) : null;
        const answer = answerOf({ restored_from: chosen.versionId, replaced });
        if (base.kind === 'stored' && base.version.versionId === chosen.versionId) return { kind: 'unchanged', results: answer };
        const bytes = await this.deps.store.getVersion(key, chosen);
        return changed(answer, (condition, stamp) => this.deps.store.put(key, bytes, condition, stamp));
      },
    });
  }

  /** The database file (or a SQL dump) of the current or a past version, inline or presigned. */
  async export(database: string, format: 'sqlite' | 'sql', selector?: VersionSelector): Promise<{ version: string; transfer: Transfer }> {
    assertDatabaseName(database);
    const version = selector ? await this.history.find(database, selector) : await this.currentVersion(database);
    const key = this.keyOf(database);
    const expiry = this.options.presignExpirySeconds;
    if (format === 'sqlite') {
      if (4 * Math.ceil(version.sizeBytes / 3) > this.options.inlineTransferBytes) {
        return { version: version.versionId, transfer: { kind: 'presigned', request: await this.deps.archive.presignGet(key, version, expiry, `${database}.sqlite`) } };
      }
      return { version: version.versionId, transfer: { kind: 'inline', body: await this.deps.store.getVersion(key, version) } };
    }
    const dump = await this.deps.inspector.dump(await this.deps.store.getVersion(key, version));
    // A JSON string is at least as long as the text: only a dump that could fit is encoded to measure it.
    const text = dump.byteLength <= this.options.inlineTransferBytes ? Buffer.from(dump.buffer, dump.byteOffset, dump.byteLength).toString('utf8') : undefined;
    if (text !== undefined && Buffer.byteLength(JSON.stringify(text)) <= this.options.inlineTransferBytes) {
      return { version: version.versionId, transfer: { kind: 'inline', body: text } };
    }
    const dumpKey = `${this.options.exportPrefix}${database}/${randomUUID()}.sql`;
    await this.deps.store.putBlob(dumpKey, dump);
    return { version: version.versionId, transfer: { kind: 'presigned', request: await this.deps.archive.presignGet(dumpKey, undefined, expiry, `${database}.sql`) } };
  }

  /** A presigned upload to a staging key, for files above the inline limit; import it with `{staged}`. */
  async stageUpload(database: string): Promise<{ staged: string; upload: PresignedRequest; max_bytes: number }> {
    assertDatabaseName(database);
    const staged = `${this.options.stagingPrefix}${database}/${randomUUID()}.sqlite`;
    const upload = await this.deps.archive.presignUpload(staged, this.options.maxDatabaseBytes, this.options.presignExpirySeconds);
    return { staged, upload, max_bytes: this.options.maxDatabaseBytes };
  }

  /**
   * Replaces the database with an uploaded file, or with the database a SQL script (a dump) makes
   * when run on an empty one (`format: 'sql'`), never trusted: size, then the inspector's checks
   * (header, integrity, journal mode, schema), all before the lease is taken.
   */
  async import(
    database: string,
    source: ({ bytes: Uint8Array } | { staged: string; sha256?: string }) & { format?: ImportFormat },
    context: ChangeContext,
  ): Promise<ChangeAnswer> {
    assertDatabaseName(database);
    const format = source.format ?? 'sqlite';
    // What the request said, which its retry says again: a body by its bytes (before the
    // inspector takes them); a staged upload by the sha256 its request names, checked below, so
    // a retry that staged the same file again is the same request; else by its key (the upload
    // itself may have expired by the time a retry comes).
    const named =
      'bytes' in source ? { sha256: sha256Hex(source.bytes) } : source.sha256 !== undefined ? { sha256: source.sha256 } : { staged: this.stagedKey(database, source.staged) };
    const meaning = { kind: 'import', ...(format === 'sql' && { format }), ...named };
    // A retry whose first attempt was applied answers that, without fetching or checking the upload again.
    const replayed = context.idempotencyKey === undefined ? undefined : await this.deps.service.replayIfAnswered(database, context.idempotencyKey, meaning);
    if (replayed) return changeAnswerOf(replayed);
    const bytes = 'bytes' in source ? source.bytes : await this.stagedBytes(this.stagedKey(database, source.staged));
    if ('staged' in source && source.sha256 !== undefined && sha256Hex(bytes) !== source.sha256) {
      throw new BadRequestError(`the upload at "${source.staged}" is not the file whose sha256 the request names; nothing was changed`);
    }
    if (bytes.byteLength > this.options.maxDatabaseBytes) {
      throw new PayloadTooLargeError(`the ${format === 'sql' ? 'script' : 'file'} is ${bytes.byteLength} bytes; databases may hold at most ${this.options.maxDatabaseBytes}`);
    }
    const inspection = format === 'sql' ? await this.deps.inspector.build(bytes, this.options.maxDatabaseBytes) : await this.deps.inspector.inspect(bytes);
    if (inspection.kind === 'refused') throw new InvalidDatabaseFileError(`the ${format === 'sql' ? 'SQL dump' : 'file'} was refused and nothing was changed: ${inspection.reason}`);
    const key = this.keyOf(database);
    return this.change({
      database,
      meaning,
      ...context,
      produce: async (base) => {
        const answer = answerOf({ replaced: base.kind === 'stored' ? versionName(base.version) : null, converted_from_wal: inspection.convertedFromWal ? 1 : 0 });
        return changed(answer, (condition, stamp) => this.deps.store.put(key, inspection.bytes, condition, stamp));
      },
    });
  }

  /** A new database `to` from a state of this one, copied inside S3 (no bytes pass through here). */
  async clone(database: string, to: string, selector: VersionSelector | undefined, context: ChangeContext): Promise<ChangeAnswer> {
    assertDatabaseName(database);
    assertDatabaseName(to);
    if (to === database) throw new BadRequestError('"to" must name another database; to go back in time in place, use restore');
    return this.change({
      database: to,
      // What the request said, not what it resolved to: a retry after the source moved on still matches.
      meaning: { kind: 'clone', from: database, ...selector },
      ...context,
      // The source is resolved here, after the key was looked up: a keyed retry replays even once the source is gone.
      produce: async (base) => {
        if (base.kind === 'stored') throw new DatabaseExistsError(`database "${to}" already exists; delete it first or clone to another name`);
        const source = selector ? await this.history.find(database, selector) : await this.currentVersion(database);
        const from = { key: this.keyOf(database), version: { etag: source.etag, versionId: source.versionId } };
        return changed(answerOf({ cloned_from: database, source_version: source.versionId }), (condition, stamp) =>
          this.deps.archive.copy(from, this.keyOf(to), condition, stamp),
        );
      },
    });
  }

  /** A delete marker: reads answer 404 from now on; the versions stay listed and restorable. */
  async delete(database: string, confirm: string | undefined, context: ChangeContext): Promise<ChangeAnswer> {
    assertDatabaseName(database);
    if (confirm !== database) throw new BadRequestError(`to delete a database, repeat its name: ?confirm=${database}`);
    const key = this.keyOf(database);
    return this.change({
      database,
      meaning: { kind: 'delete' },
      ...context,
      produce: async (base) => {
        if (base.kind === 'empty') throw new DatabaseNotFoundError(database);
        const deletedVersion = versionName(base.version);
        return {
          ...changed(answerOf({ deleted_version: deletedVersion }), (condition) => {
            if (!('ifMatch' in condition)) throw new Error('a delete always builds on a stored version');
            return this.deps.archive.markDeleted(key, condition.ifMatch);
          }),
          deletes: true,
        };
      },
    });
  }

  // -------------------------------------------------------------------------------------------

  private async change(change: Change): Promise<ChangeAnswer> {
    return changeAnswerOf(await this.deps.service.change(change));
  }

  /** The current committed version with its size and time; 404 for a missing or deleted database. */
  private async currentVersion(database: string): Promise<ObjectVersion> {
    for await (const version of this.history.walk(database)) {
      if (version.deleteMarker) throw new DatabaseNotFoundError(database, true);
      return version;
    }
    throw new DatabaseNotFoundError(database);
  }

  private read(database: string, at: PastState, sql: string | string[]): Promise<SqlResponse> {
    const program = typeof sql === 'string' ? { kind: 'script' as const, sql } : { kind: 'batch' as const, statements: sql.map((s) => ({ sql: s })) };
    return this.deps.service.execute({ database, program, consistency: 'strong', at }, 'read');
  }

  /** A staged upload belongs to one database: an import may name only its own staging keys (else BAD_REQUEST). */
  private stagedKey(database: string, staged: string): string {
    const prefix = `${this.options.stagingPrefix}${database}/`;
    if (!staged.startsWith(prefix) || staged.includes('..')) throw new BadRequestError(`"staged" must be a key this database's upload answered (${prefix}...)`);
    return staged;
  }

  private async stagedBytes(staged: string): Promise<Uint8Array> {
    const size = await this.deps.archive.sizeOf(staged);
    if (size === undefined) throw new BadRequestError('nothing was uploaded to that staging key (or it expired); ask for a new upload');
    if (size > this.options.maxDatabaseBytes) throw new PayloadTooLargeError(`the file is ${size} bytes; databases may hold at most ${this.options.maxDatabaseBytes}`);
    return (await this.deps.store.getBlob(staged))!;
  }

  private keyOf(database: string): string {
    return keyOf(this.options.keyPrefix, database);
  }
}

function changed(results: StatementResult[], store: Changed['store']) {
  return { kind: 'changed' as const, results, writeId: randomUUID(), store, settle: () => undefined };
}

/**
 * A lifecycle answer travels as one result row, so the write path's idempotency record stores
 * it and a replay returns exactly the first answer.
 */
function answerOf(fields: Record<string, SqlValue>): StatementResult[] {
  return [{ columns: Object.keys(fields), rows: [Object.values(fields)], changes: 0, lastInsertRowid: null }];
}

function changeAnswerOf(response: SqlResponse): ChangeAnswer {
  return { version: response.meta.version, ...(response.meta.replayed && { replayed: true as const }), fields: fieldsOf(response) };
}

function fieldsOf(response: SqlResponse): Record<string, SqlValue> {
  const result = response.results[0];
  if (!result) return {};
  return Object.fromEntries(result.columns.map((column, i) => [column, result.rows[0]?.[i] ?? null]));
}

function summaryOf(database: string, version: ObjectVersion): DatabaseSummary {
  return { name: database, size_bytes: version.sizeBytes, version: version.versionId, last_modified: new Date(version.lastModifiedMs).toISOString() };
}

function keyOf(prefix: string, database: string): string {
  return `${prefix}${database}.sqlite`;
}

/**
 * Where in the bucket the databases `patterns` name are: a pattern's fixed start (`acme-` for
 * `acme-*`), or a database's own key for a plain name. Sorted, and without any that another
 * contains, so listing them in turn gives key order and never the same key twice.
 */
function listingPrefixes(keyPrefix: string, patterns: readonly string[]): string[] {
  const prefixes = [...new Set(patterns.map((pattern) => (pattern.includes('*') ? `${keyPrefix}${pattern.slice(0, pattern.indexOf('*'))}` : keyOf(keyPrefix, pattern))))].sort();
  return prefixes.filter((prefix) => !prefixes.some((other) => other !== prefix && prefix.startsWith(other)));
}

function nameOf(prefix: string, key: string): string | undefined {
  const name = key.startsWith(prefix) && key.endsWith('.sqlite') ? key.slice(prefix.length, -'.sqlite'.length) : undefined;
  return name !== undefined && DATABASE_NAME_PATTERN.test(name) ? name : undefined;
}

function sameVersion(version: ObjectVersion, record: VersionRecord): boolean {
  return record.version.versionId !== undefined ? version.versionId === record.version.versionId : version.etag === record.version.etag;
}

function versionName(version: StoredVersion): string {
  return version.versionId ?? version.etag;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
