import { BadRequestError } from '../../functions/core/errors';
import { parseSqlRequest } from '../../functions/http/sql-request';

const limits = { maxStatements: 3, maxParams: 4, maxSqlLength: 200 };

describe('parseSqlRequest', () => {
  it.each([
    ['one statement with defaults', { sql_statement: 'SELECT 1' }, { database: 'main', consistency: 'strong', program: { kind: 'script', sql: 'SELECT 1', params: undefined } }],
    ['positional params', { sql_statement: 'SELECT ?', params: [1] }, { program: { kind: 'script', sql: 'SELECT ?', params: [1] } }],
    ['named params as given', { sql_statement: 'SELECT :a, @b', params: { a: 'x', '@b': true } }, { program: { kind: 'script', sql: 'SELECT :a, @b', params: { a: 'x', '@b': 1 } } }],
    ['a batch', { statements: [{ sql: 'SELECT 1' }, { sql: 'SELECT ?', params: [null] }] }, { program: { kind: 'batch', statements: [{ sql: 'SELECT 1' }, { sql: 'SELECT ?', params: [null] }] } }],
    ['database and eventual consistency', { sql_statement: 'SELECT 1', database: 'shop-2_a', consistency: 'eventual' }, { database: 'shop-2_a', consistency: 'eventual' }],
    ['a big integer parameter', { sql_statement: 'SELECT ?', params: [{ integer: '-9223372036854775808' }] }, { program: { kind: 'script', sql: 'SELECT ?', params: [-9223372036854775808n] } }],
  ])('accepts %s', (_name, body, expected) => {
    expect(parseSqlRequest(body, limits)).toMatchObject(expected);
  });

  it.each([
    ['a non-object body', [1, 2], /JSON object/],
    ['no statement', {}, /exactly one of/],
    ['both forms', { sql_statement: 'SELECT 1', statements: [] }, /exactly one of/],
    ['sql_statement of the wrong type', { sql_statement: 5 }, /"sql_statement" must be a string/],
    ['an empty statement', { sql_statement: '   ' }, /is empty/],
    ['an unknown field', { sql_statement: 'SELECT 1', sql: 'x' }, /unknown field/],
    ['an unknown field in a statement', { statements: [{ sql: 'SELECT 1', extra: 1 }] }, /unknown field/],
    ['params with statements', { statements: [{ sql: 'SELECT 1' }], params: [] }, /inside each entry/],
    ['too many statements', { statements: Array(4).fill({ sql: 'SELECT 1' }) }, /limit is 3/],
    ['no statements', { statements: [] }, /at least one/],
    ['too many params', { sql_statement: 'SELECT 1', params: [1, 2, 3, 4, 5] }, /limit is 4/],
    ['an over-long statement', { sql_statement: 'x'.repeat(201) }, /limit is 200/],
    ['a NUL character', { sql_statement: 'SELECT 1\u0000; DROP TABLE t' }, /NUL/],
    ['params of the wrong type', { sql_statement: 'SELECT ?', params: 'x' }, /array .* or an object/],
    ['a nested parameter', { sql_statement: 'SELECT ?', params: [[1]] }, /params\[0\]/],
    ['an unknown tagged parameter', { sql_statement: 'SELECT ?', params: [{ blob: 'x' }] }, /params\[0\]/],
    ['a malformed integer', { sql_statement: 'SELECT ?', params: [{ integer: '12x' }] }, /decimal string/],
    ['an integer out of range', { sql_statement: 'SELECT ?', params: [{ integer: '9223372036854775808' }] }, /64-bit/],
    ['malformed base64', { sql_statement: 'SELECT ?', params: [{ base64: '@@@' }] }, /base64/],
    ['a database with dots', { sql_statement: 'SELECT 1', database: '../x' }, /database must match/],
    ['an empty database', { sql_statement: 'SELECT 1', database: '' }, /database must match/],
    ['an upper-case database', { sql_statement: 'SELECT 1', database: 'Main' }, /database must match/],
    ['a 64-character database', { sql_statement: 'SELECT 1', database: 'a'.repeat(64) }, /database must match/],
    ['an unknown consistency', { sql_statement: 'SELECT 1', consistency: 'weak' }, /strong" or "eventual/],
  ])('refuses %s with a named BadRequestError', (_name, body, message) => {
    expect(() => parseSqlRequest(body, limits)).toThrow(BadRequestError);
    expect(() => parseSqlRequest(body, limits)).toThrow(message);
  });
});
