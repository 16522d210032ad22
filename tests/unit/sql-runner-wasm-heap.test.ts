import { freshDatabaseEachTest } from '../helpers/sqljs-database';
import { runRead, runWrite } from '../../functions/adapters/sqljs/sql-runner';
import type { Program } from '../../functions/core/ports';

/**
 * Memory the runner takes from sql.js's WebAssembly heap must come back after the request.
 * That heap lives as long as the worker (for many tenants' requests in a warm Lambda), never
 * shrinks, and SQLITE_HEAP_LIMIT_MB does not count what JavaScript allocates in it directly.
 */
const LIMITS = { maxStatements: 100, maxResultBytes: 1_000_000, maxDatabaseBytes: 64 * 1024 * 1024 };
const sqlite = freshDatabaseEachTest();

/** Where sql.js places a fresh 1 MB block: it climbs only when blocks below are still taken. */
function heapTop(): number {
  const wasm = sqlite.SQL as unknown as { _malloc(bytes: number): number; _free(pointer: number): void };
  const pointer = wasm._malloc(1024 * 1024);
  wasm._free(pointer);
  return pointer;
}

// A statement text of about 1 MB (a comment in front of it), as a tenant may send 40 of per request.
const LONG = `-- ${'x'.repeat(1024 * 1024)}\nSELECT 1`;

describe("the runner gives the statement text's memory back to sql.js", () => {
  it.each<[string, Program]>([
    ['a script', { kind: 'script', sql: LONG }],
    ['a script of two statements', { kind: 'script', sql: `${LONG}; SELECT 2` }],
    ['statements', { kind: 'batch', statements: [{ sql: LONG }, { sql: LONG }] }],
  ])('%s read 20 times leaves the heap where it was', (_name, program) => {
    runRead(sqlite.db, program, LIMITS);
    const before = heapTop();
    for (let request = 0; request < 20; request++) runRead(sqlite.db, program, LIMITS);
    // Each leaked text would raise it by 1 MB or more: 20 MB in all.
    expect(heapTop() - before).toBeLessThan(4 * 1024 * 1024);
  });

  it('a write that fails while running gives it back too', () => {
    const failing: Program = { kind: 'script', sql: `${LONG}; SELECT abs(-9223372036854775807 - 1); SELECT 3` };
    expect(() => runWrite(sqlite.db, failing, LIMITS)).toThrow(/integer overflow/);
    const before = heapTop();
    for (let request = 0; request < 20; request++) expect(() => runWrite(sqlite.db, failing, LIMITS)).toThrow(/integer overflow/);
    expect(heapTop() - before).toBeLessThan(4 * 1024 * 1024);
  });
});
