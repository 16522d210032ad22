import type { Database } from 'sql.js';

/**
 * What a statement does, read from its compiled program (`EXPLAIN`) instead of from its text.
 * sql.js does not export sqlite3_stmt_readonly, so this applies the rule SQLite uses for it
 * (vdbeaux.c, resolveP2Values), measured on sql.js 1.16 and pinned in tests/unit/compiled-program.test.ts:
 *
 *   - `Transaction p1 p2`: opens database p1 (0 main, 1 temp) for writing when p2 != 0.
 *   - `JournalMode`: SQLite adds one (sqlite3ForceNotReadOnly) to `CREATE ... IF NOT EXISTS` of an
 *     existing object and `DROP ... IF EXISTS` of a missing one, so that they count as writes
 *     although their program changes nothing on this copy: on another version they would.
 *   - `Vacuum`.
 *
 * Two refinements, both tested:
 *   - TEMP is not stored: a `Transaction` on database 1 is not a write, and a `JournalMode` in a
 *     program that opens only TEMP (`DROP TABLE IF EXISTS temp.x`) is not one either.
 *   - `SqlExec` runs SQL that SQLite generated while preparing; `PRAGMA optimize` uses it for
 *     `ANALYZE` when statistics are stale, which writes.
 */
export interface ProgramFacts {
  /** Changes a stored database: must run on the write path. */
  writes: boolean;
  /** Works on TEMP (only this request's own objects): opens it for writing, or opens nothing else. */
  targetsTemp: boolean;
  /** The statement itself (not a trigger) inserts rows that set last_insert_rowid. */
  insertsRowid: boolean;
  /** An upsert: some rows may be updated instead of inserted, leaving last_insert_rowid as it was. */
  mayUpdateInstead: boolean;
  /**
   * The statement itself writes a virtual table and fires no trigger: its own rows are then
   * SQLite's changes() exactly, where total_changes() also counts the module's writes to its
   * shadow tables (an FTS4 insert is 4 there).
   */
  changesAreDirect: boolean;
}

const TEMP_DATABASE = 1;
// sqliteInt.h: OP_Insert's p5 flags.
const OPFLAG_ISUPDATE = 0x04;
const OPFLAG_LASTROWID = 0x20;

export interface Instruction {
  addr: number;
  opcode: string;
  p1: number;
  p2: number;
  p5: number;
}

/** Compiles `sql` (one statement) with EXPLAIN and reads what its program does. Runs nothing. */
export function compiledProgramFacts(db: Database, sql: string): ProgramFacts {
  const listing = db.exec(`EXPLAIN ${sql}`)[0];
  const instructions: Instruction[] = (listing?.values ?? []).map((row) => ({
    addr: Number(row[0]),
    opcode: String(row[1]),
    p1: Number(row[2]),
    p2: Number(row[3]),
    p5: Number(row[6]),
  }));
  return programFacts(instructions);
}

/** The facts of a program listing (EXPLAIN rows: top-level program first, then trigger programs). */
export function programFacts(instructions: Instruction[]): ProgramFacts {
  const transactions = instructions.filter((i) => i.opcode === 'Transaction');
  const opensOnlyTemp = transactions.length > 0 && transactions.every((t) => t.p1 === TEMP_DATABASE);
  const writes =
    transactions.some((t) => t.p1 !== TEMP_DATABASE && t.p2 !== 0) ||
    instructions.some((i) => i.opcode === 'Vacuum' || i.opcode === 'SqlExec' || (i.opcode === 'JournalMode' && !opensOnlyTemp));
  const own = topLevel(instructions);
  const inserts = own.filter((i) => i.opcode === 'Insert');
  // OP_VUpdate's p1 is set when the row it writes is an insert whose rowid becomes last_insert_rowid.
  const virtualWrites = own.filter((i) => i.opcode === 'VUpdate');
  return {
    writes,
    targetsTemp: opensOnlyTemp || transactions.some((t) => t.p1 === TEMP_DATABASE && t.p2 !== 0),
    insertsRowid: inserts.some((i) => (i.p5 & OPFLAG_LASTROWID) !== 0) || virtualWrites.some((i) => i.p1 !== 0),
    mayUpdateInstead: inserts.some((i) => (i.p5 & OPFLAG_ISUPDATE) !== 0),
    changesAreDirect: virtualWrites.length > 0 && own.length === instructions.length,
  };
}

/** EXPLAIN lists trigger programs after the statement's own, each starting again at address 0. */
function topLevel(instructions: Instruction[]): Instruction[] {
  const end = instructions.findIndex((instruction, index) => index > 0 && instruction.addr === 0);
  return end < 0 ? instructions : instructions.slice(0, end);
}

/** Verbs that name the one object they write: when that object is TEMP, the request made it. */
const OBJECT_WRITE = /^(?:INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b/i;
/** Verbs that act on whatever the database holds. */
const DATABASE_WRITE = /^(?:REINDEX|ANALYZE|VACUUM)\b|^PRAGMA\s+(?:\w+\s*\.\s*)?(?:optimize\b|\w+\s*=)/i;

/**
 * Whether the statement's text promises a write that its program, on this copy, does not make
 * (REINDEX with no index, PRAGMA optimize with fresh statistics): on another version of the
 * database the same text could write. A statement on a TEMP object it names is not:
 * TEMP holds only what the request itself made.
 */
export function isStateDependent(leadingText: string, facts: ProgramFacts): boolean {
  if (facts.writes) return false;
  return DATABASE_WRITE.test(leadingText) || (OBJECT_WRITE.test(leadingText) && !facts.targetsTemp);
}
