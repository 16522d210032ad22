import { createHash } from 'node:crypto';
import type { DatabaseService } from './database-service';
import { BadRequestError, CloudliteError, MigrationChecksumError } from './errors';
import type { Program, StatementResult } from './ports';

/**
 * Schema migrations: numbered SQL files applied in order, each as ONE write request (so in one
 * transaction, under the write lock, fenced like any other write), each recorded in
 * `schema_migrations` with the SHA-256 of its text.
 *
 * The planner is pure; `applyMigrations` talks to the database only through `SqlClient`, which
 * has an in-process implementation (`serviceSqlClient`, for `npm start` and tests) and an HTTP
 * one over `POST /sql` (scripts/api-client.ts, for `npm run migrate` against a running stage).
 */

/** A migration file as read from `migrations/`: its file name and its SQL text. */
export interface MigrationFile {
  name: string;
  sql: string;
}

/** A migration as `schema_migrations` records it. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

export interface PlannedMigration extends AppliedMigration {
  sql: string;
}

/** What applying migrations needs from a database, whichever way it is reached. */
export interface SqlClient {
  /** Runs a program that only reads; throws the service's domain errors. */
  read(database: string, program: Program): Promise<StatementResult[]>;
  /** Runs a program on the locked, fenced write path, in one transaction. */
  write(database: string, program: Program): Promise<StatementResult[]>;
}

/**
 * The name is spliced into the recording INSERT as a literal, so its alphabet is what keeps
 * that statement safe (no quotes can occur); the 4-digit prefix is the version.
 */
export const MIGRATION_FILE_NAME = /^([0-9]{4})_[a-z0-9_]+\.sql$/;

const SCHEMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

const READ_APPLIED: Program = { kind: 'script', sql: 'SELECT version, name, checksum FROM schema_migrations ORDER BY version' };

/**
 * SHA-256 (hex) of a migration's text. CRLF is hashed as LF so a checkout with Windows line
 * endings is not reported as drift; any other change to the text is.
 */
export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n'), 'utf8').digest('hex');
}

/**
 * Decides which files still need applying, in version order. Throws instead of skipping when
 * the files and the database's history disagree: a file changed after it was applied
 * (MigrationChecksumError), an applied migration whose file is gone or renamed
 * (MigrationChecksumError), or a new file numbered below one already applied (BadRequestError:
 * applying it now would run migrations in a different order than on other databases).
 */
export function planMigrations(files: readonly MigrationFile[], applied: readonly AppliedMigration[]): PlannedMigration[] {
  const byVersion = new Map<number, PlannedMigration>();
  for (const file of files) {
    const match = MIGRATION_FILE_NAME.exec(file.name);
    if (!match) throw new BadRequestError(`migration file "${file.name}" must be named like 0001_create_things.sql (${MIGRATION_FILE_NAME.source})`);
    const version = Number(match[1]);
    if (version === 0) throw new BadRequestError(`migration file "${file.name}": versions start at 0001`);
    const clash = byVersion.get(version);
    if (clash) throw new BadRequestError(`migration files "${clash.name}" and "${file.name}" share version ${version}`);
    byVersion.set(version, { version, name: file.name, checksum: migrationChecksum(file.sql), sql: file.sql });
  }

  const appliedVersions = new Set<number>();
  for (const record of applied) {
    appliedVersions.add(record.version);
    const file = byVersion.get(record.version);
    if (!file) {
      throw new MigrationChecksumError(`migration ${record.name} (version ${record.version}) is applied to the database but its file is missing`);
    }
    if (file.name !== record.name) {
      throw new MigrationChecksumError(`migration version ${record.version} was applied as ${record.name} but the file is now named ${file.name}`);
    }
    if (file.checksum !== record.checksum) {
      throw new MigrationChecksumError(
        `migration ${file.name} changed after it was applied (checksum ${record.checksum} applied, ${file.checksum} now); add a new migration instead of editing an applied one`,
      );
    }
  }

  const newestApplied = Math.max(0, ...appliedVersions);
  const pending = [...byVersion.values()].filter((m) => !appliedVersions.has(m.version)).sort((a, b) => a.version - b.version);
  const late = pending.find((m) => m.version < newestApplied);
  if (late) {
    throw new BadRequestError(`migration ${late.name} is pending but version ${newestApplied} is already applied; number new migrations after the newest applied one`);
  }
  return pending;
}

/**
 * The one program that applies a migration: the history table (created on first use), the
 * file's statements, and its record, all in the transaction of a single write request. The
 * record's values are literals we generate (integer version, a name restricted by
 * MIGRATION_FILE_NAME, a hex checksum), because a multi-statement script cannot carry params.
 * The record comes before the file's text: a file ending inside an unclosed comment would
 * otherwise swallow it (SQLite accepts an unterminated comment at the end of input). The
 * "\n;\n" after the file ends a trailing `--` comment or a missing final semicolon.
 */
export function migrationProgram(migration: PlannedMigration): Program {
  if (!MIGRATION_FILE_NAME.test(migration.name) || !Number.isSafeInteger(migration.version) || !/^[0-9a-f]{64}$/.test(migration.checksum)) {
    throw new BadRequestError(`refusing to record migration "${migration.name}": unexpected name, version or checksum`);
  }
  const record =
    'INSERT INTO schema_migrations (version, name, checksum, applied_at) ' +
    `VALUES (${migration.version}, '${migration.name}', '${migration.checksum}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;
  return { kind: 'script', sql: `${SCHEMA_MIGRATIONS_DDL};\n${record};\n${migration.sql}\n;\n` };
}

/**
 * True when an error only says the schema is not there yet: the database was never written
 * (DATABASE_NOT_FOUND) or lacks the table (SQLite's "no such table"). Works for errors thrown
 * in-process and for those rebuilt from an HTTP answer, since both carry the code.
 */
export function isMissingSchema(error: unknown, table: string): boolean {
  if (!(error instanceof CloudliteError)) return false;
  if (error.code === 'DATABASE_NOT_FOUND') return true;
  return error.code === 'SQL_ERROR' && new RegExp(`^no such table: (?:main\\.)?${table}$`).test(error.message);
}

/** Reads the history; a database or table that does not exist yet means nothing is applied. */
export async function readAppliedMigrations(client: SqlClient, database: string): Promise<AppliedMigration[]> {
  let results: StatementResult[];
  try {
    results = await client.read(database, READ_APPLIED);
  } catch (error) {
    if (isMissingSchema(error, 'schema_migrations')) return [];
    throw error;
  }
  return (results[0]?.rows ?? []).map(([version, name, checksum]) => ({
    version: Number(version),
    name: String(name),
    checksum: String(checksum),
  }));
}

export interface MigrationReport {
  /** Migrations this call applied, in order. */
  applied: AppliedMigration[];
  /** How many were already applied before this call (or by a concurrent migrator during it). */
  alreadyApplied: number;
}

/**
 * Applies every pending migration, one write request each, re-reading the history before each.
 *
 * Two migrators racing: the write lock serializes them, so the second one's transaction runs
 * on the first one's result and fails (its DDL or the schema_migrations primary key collides),
 * rolling back entirely. When a write fails we re-read the history: if the migration is now
 * recorded, someone else applied it (and the planner re-checks its checksum); if not, the
 * failure was ours and is thrown.
 */
export async function applyMigrations(client: SqlClient, database: string, files: readonly MigrationFile[]): Promise<MigrationReport> {
  const appliedNow: AppliedMigration[] = [];
  for (;;) {
    const history = await readAppliedMigrations(client, database);
    const [next] = planMigrations(files, history);
    if (!next) return { applied: appliedNow, alreadyApplied: history.length - appliedNow.length };
    try {
      await client.write(database, migrationProgram(next));
      appliedNow.push({ version: next.version, name: next.name, checksum: next.checksum });
    } catch (error) {
      const after = await readAppliedMigrations(client, database).catch(() => []);
      if (!after.some((m) => m.version === next.version)) throw error;
    }
  }
}

/** The in-process SqlClient: straight into the database service, as `POST /sql` would. */
export function serviceSqlClient(service: DatabaseService): SqlClient {
  return {
    read: async (database, program) => (await service.execute({ database, program, consistency: 'strong' }, 'read')).results,
    write: async (database, program) => (await service.write({ database, program })).results,
  };
}
