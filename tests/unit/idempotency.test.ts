import { decodeAnswer, encodeAnswer, fingerprintOf } from '../../functions/core/idempotency';
import type { StatementResult } from '../../functions/core/ports';

describe('idempotency fingerprints and stored answers', () => {
  it('the same meaning gives the same fingerprint: named params in any order, the same database and statements', () => {
    const a = fingerprintOf('shop', { kind: 'script', sql: 'INSERT INTO t VALUES (:a, :b)', params: { a: 1, b: 'x' } });
    const b = fingerprintOf('shop', { kind: 'script', sql: 'INSERT INTO t VALUES (:a, :b)', params: { b: 'x', a: 1 } });
    expect(a).toBe(b);
  });

  it.each([
    ['another database', fingerprintOf('other', { kind: 'script', sql: 'INSERT INTO t VALUES (?)', params: [1] })],
    ['another parameter value', fingerprintOf('shop', { kind: 'script', sql: 'INSERT INTO t VALUES (?)', params: [2] })],
    ['a 64-bit integer instead of a text', fingerprintOf('shop', { kind: 'script', sql: 'INSERT INTO t VALUES (?)', params: [1n] })],
    ['another statement', fingerprintOf('shop', { kind: 'script', sql: 'INSERT INTO t VALUES (?) ', params: [1] })],
    ['a lifecycle change', fingerprintOf('shop', { kind: 'restore', version: 'v1' })],
  ])('%s gives another fingerprint', (_name, other) => {
    expect(other).not.toBe(fingerprintOf('shop', { kind: 'script', sql: 'INSERT INTO t VALUES (?)', params: [1] }));
  });

  it('a stored answer replays every value with its exact type', () => {
    const results: StatementResult[] = [
      {
        columns: ['i', 'big', 'r', 'inf', 't', 'b', 'n'],
        rows: [[2n, 9223372036854775807n, 2.5, -Infinity, 'text', new Uint8Array([0, 255]), null]],
        changes: 1,
        lastInsertRowid: 9007199254740993n,
      },
      { columns: [], rows: [], changes: 0, lastInsertRowid: null },
    ];
    expect(decodeAnswer(encodeAnswer(results))).toEqual(results);
  });
});
