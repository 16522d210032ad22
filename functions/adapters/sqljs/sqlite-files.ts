import { existsSync } from 'node:fs';
import path from 'node:path';

/** The first 16 bytes of every SQLite database file. */
export const SQLITE_MAGIC = 'SQLite format 3\u0000';

/** sql.js's WebAssembly: beside the bundle when deployed, from node_modules when run from source. */
export function wasmPath(): string {
  const bundled = path.join(__dirname, 'sql-wasm.wasm');
  return existsSync(bundled) ? bundled : require.resolve('sql.js/dist/sql-wasm.wasm');
}
