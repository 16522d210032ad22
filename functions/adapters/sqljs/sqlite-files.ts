import { existsSync } from 'node:fs';
import path from 'node:path';

/** The first 16 bytes of every SQLite database file. */
export const SQLITE_MAGIC = 'SQLite format 3\u0000';

/** sql.js's WebAssembly: beside the bundle when deployed, from node_modules when run from source. */
export function wasmPath(): string {
  const bundled = path.join(__dirname, 'sql-wasm.wasm');
  return existsSync(bundled) ? bundled : require.resolve('sql.js/dist/sql-wasm.wasm');
}

/** Transfers move the memory to a worker; only a buffer the bytes own entirely may be moved. */
export function ownedCopy(bytes: Uint8Array): Uint8Array {
  const ownsBuffer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return ownsBuffer ? bytes : bytes.slice();
}

/**
 * The code that starts a worker thread (for `new Worker(code, { eval: true })`): the bundle ships
 * `<name>.js` beside the handler; from source (tests, `npm start`) the TypeScript file is loaded
 * through tsx's require hook.
 */
export function workerEntry(name: 'sql-worker' | 'file-inspector-worker'): string {
  const bundled = path.join(__dirname, `${name}.js`);
  if (existsSync(bundled)) return `require(${JSON.stringify(bundled)});`;
  const source = path.join(__dirname, `${name}.ts`);
  return `require('tsx/cjs/api').register(); require(${JSON.stringify(source)});`;
}
