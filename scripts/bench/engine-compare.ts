import { createRequire } from 'node:module';
import { configureConnection } from '../../functions/adapters/sqljs/sql-runner';
import { ITEMS_SCHEMA, itemRow, median, timedSync, type SqlJs } from './measure';

const ROUNDS = 5;

/**
 * sql.js (the engine, WebAssembly) against native SQLite (better-sqlite3, a dev dependency used
 * here only) on the same table and the same statements, both in this process: the price of
 * running SQLite as WebAssembly, without any I/O around it. sql.js runs with the connection
 * settings the service gives its copies (configureConnection); native SQLite holds its database
 * in memory, every page in its pager, the fastest it can be.
 */

export interface EngineComparison {
  kind: string;
  sqlJsMs: number;
  nativeMs: number;
  /** Target for the ratio sql.js / native, where the issue sets one. */
  target?: number;
}

interface Runner {
  exec(sql: string): void;
  /** Runs a prepared query `times` times with the params `paramsOf(i)`, reading every row; ms per query. */
  query(sql: string, times: number, paramsOf: (i: number) => unknown[]): number;
  insertMany(sql: string, rows: unknown[][]): void;
  close(): void;
}

export async function compareEngines(SQL: SqlJs, options: { rows: number; lookups: number; scans: number }): Promise<EngineComparison[] | string> {
  let Native: typeof import('better-sqlite3');
  try {
    Native = createRequire(__filename)('better-sqlite3') as typeof import('better-sqlite3');
    new Native(':memory:').close();
  } catch (error) {
    return `native SQLite unavailable (better-sqlite3: ${String(error).split('\n')[0]})`;
  }
  const sqlJs = sqlJsRunner(SQL);
  const native = nativeRunner(new Native(':memory:'));
  const rows = Array.from({ length: options.rows }, (_, i) => itemRow(i));
  for (const runner of [sqlJs, native]) {
    runner.exec(ITEMS_SCHEMA);
    runner.insertMany('INSERT INTO items(category, price, payload) VALUES (?, ?, ?)', rows);
  }
  const id = (i: number) => 1 + ((i * 7_919) % options.rows);
  const kinds: { kind: string; sql: string; times: number; params: (i: number) => unknown[]; target?: number }[] = [
    { kind: 'indexed lookup (primary key)', sql: 'SELECT id, category, price FROM items WHERE id = ?', times: options.lookups, params: (i) => [id(i)], target: 3 },
    { kind: 'range scan (100 rows by key)', sql: 'SELECT id, price FROM items WHERE id BETWEEN ? AND ? + 99', times: options.lookups, params: (i) => [id(i), id(i)], target: 3 },
    { kind: 'full-scan aggregate', sql: 'SELECT sum(price), avg(length(payload)) FROM items', times: options.scans, params: () => [] },
    { kind: 'GROUP BY (100 groups)', sql: 'SELECT category, count(*), avg(price) FROM items GROUP BY category', times: options.scans, params: () => [] },
  ];
  const results: EngineComparison[] = [];
  for (const { kind, sql, times, params, target } of kinds) {
    // Rounds alternate between the engines, so a busy neighbour slows both alike.
    const rounds: [number[], number[]] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      rounds[0].push(sqlJs.query(sql, times, params));
      rounds[1].push(native.query(sql, times, params));
    }
    results.push({ kind, sqlJsMs: median(rounds[0].sort((a, b) => a - b)), nativeMs: median(rounds[1].sort((a, b) => a - b)), target });
  }
  const inserts = Array.from({ length: 10_000 }, (_, i) => itemRow(i));
  const insertTime = (runner: Runner) => {
    runner.exec('CREATE TABLE IF NOT EXISTS inserted(id INTEGER PRIMARY KEY, category TEXT, price REAL, payload TEXT); DELETE FROM inserted');
    const start = performance.now();
    runner.insertMany('INSERT INTO inserted(category, price, payload) VALUES (?, ?, ?)', inserts);
    return performance.now() - start;
  };
  const insertSamples = (runner: Runner) => [insertTime(runner), insertTime(runner), insertTime(runner)].sort((a, b) => a - b);
  results.push({ kind: '10 000-row insert (one transaction)', sqlJsMs: median(insertSamples(sqlJs)), nativeMs: median(insertSamples(native)) });
  sqlJs.close();
  native.close();
  return results;
}

function sqlJsRunner(SQL: SqlJs): Runner {
  const db = new SQL.Database();
  configureConnection(db);
  return {
    exec: (sql) => db.run(sql),
    query: (sql, times, paramsOf) => {
      const statement = db.prepare(sql);
      const elapsed = timedSync(() => {
        for (let i = 0; i < times; i++) {
          statement.bind(paramsOf(i) as never);
          while (statement.step()) statement.get();
          statement.reset();
        }
      });
      statement.free();
      return elapsed / times;
    },
    insertMany: (sql, rows) => {
      const statement = db.prepare(sql);
      db.run('BEGIN');
      for (const row of rows) statement.run(row as never);
      db.run('COMMIT');
      statement.free();
    },
    close: () => db.close(),
  };
}

function nativeRunner(db: import('better-sqlite3').Database): Runner {
  return {
    exec: (sql) => db.exec(sql),
    query: (sql, times, paramsOf) => {
      const statement = db.prepare(sql).raw(true);
      return timedSync(() => {
        for (let i = 0; i < times; i++) statement.all(...paramsOf(i));
      }) / times;
    },
    insertMany: (sql, rows) => {
      const statement = db.prepare(sql);
      db.transaction(() => {
        for (const row of rows) statement.run(...row);
      })();
    },
    close: () => db.close(),
  };
}
