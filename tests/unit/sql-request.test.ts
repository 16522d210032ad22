import { BadRequestError } from '../../functions/core/errors';
import { parseSqlHttpRequest, parseSqlRequest } from '../../functions/http/sql-request';

const limits = { maxStatements: 3, maxParams: 4, maxSqlLength: 200 };

describe('parseSqlRequest', () => {
  it.each([
    ['one statement with defaults', { sql_statement: 'SELECT 1' }, { database: 'main', consistency: 'strong', program: { kind: 'script', sql: 'SELECT 1', params: undefined } }],
    ['positional params', { sql_statement: 'SELECT ?', params: [1] }, { program: { kind: 'script', sql: 'SELECT ?', params: [1] } }],
    ['named params as given', { sql_statement: 'SELECT :a, @b', params: { a: 'x', '@b': true } }, { program: { kind: 'script', sql: 'SELECT :a, @b', params: { a: 'x', '@b': 1 } } }],
    ['a batch', { statements: [{ sql: 'SELECT 1' }, { sql: 'SELECT ?', params: [null] }] }, { program: { kind: 'batch', statements: [{ sql: 'SELECT 1' }, { sql: 'SELECT ?', params: [null] }] } }],
    ['database and eventual consistency', { sql_statement: 'SELECT 1', database: 'shop-2_a', consistency: 'eventual' }, { database: 'shop-2_a', consistency: 'eventual' }],
    ['a big integer parameter', { sql_statement: 'SELECT ?', params: [{ integer: '-9223372036854775808' }] }, { program: { kind: 'script', sql: 'SELECT ?', params: [-9223372036854775808n] } }],
    ['a past version', { sql_statement: 'SELECT 1', version: 'v-123' }, { at: { version: 'v-123' } }],
    ['a point in time with its zone', { sql_statement: 'SELECT 1', as_of: '2025-01-31T12:30:00+05:30' }, { at: { asOfMs: Date.parse('2025-01-31T07:00:00Z') } }],
    ['a date as a point in time (UTC midnight)', { sql_statement: 'SELECT 1', as_of: '2024-02-29' }, { at: { asOfMs: Date.parse('2024-02-29T00:00:00Z') } }],
    ['an idempotency key', { sql_statement: 'INSERT INTO t VALUES (1)', idempotency_key: 'order-42 retry' }, { idempotencyKey: 'order-42 retry' }],
  ])('accepts %s', (_name, body, expected) => {
    expect(parseSqlRequest(body, limits).request).toMatchObject(expected);
  });

  it('answers rows as arrays unless asked for objects', () => {
    expect(parseSqlRequest({ sql_statement: 'SELECT 1' }, limits).rows).toBe('arrays');
    expect(parseSqlRequest({ sql_statement: 'SELECT 1', rows: 'objects' }, limits).rows).toBe('objects');
  });

  it.each([
    ['a non-object body', [1, 2], /JSON object/],
    ['no statement', {}, /exactly one of/],
    ['both forms', { sql_statement: 'SELECT 1', statements: [] }, /exactly one of/],
    ['sql_statement of the wrong type', { sql_statement: 5 }, /"sql_statement" must be a string/],
    ['an empty statement', { sql_statement: '   ' }, /is empty/],
    ['an unknown field, with the nearest known one', { sql: 'SELECT 1' }, /unknown field "sql"; did you mean "sql_statement"\?/],
    ['a misspelt field', { sql_statement: 'SELECT 1', databse: 'x' }, /did you mean "database"\?/],
    ['a camel-cased field', { sqlStatement: 'SELECT 1' }, /did you mean "sql_statement"\?/],
    ['an unknown field like no known one', { sql_statement: 'SELECT 1', zzzzzz: 1 }, /unknown field "zzzzzz"; allowed: sql_statement, params/],
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
    ['an unknown row shape', { sql_statement: 'SELECT 1', rows: 'maps' }, /"rows" must be "arrays" or "objects"/],
    ['a version and a time', { sql_statement: 'SELECT 1', version: 'v1', as_of: '2025-01-01' }, /not both/],
    ['a version with spaces', { sql_statement: 'SELECT 1', version: 'v 1' }, /"version" must be/],
    ['a time without a zone', { sql_statement: 'SELECT 1', as_of: '2025-01-31T12:00:00' }, /ISO-8601/],
    ['a date that does not exist', { sql_statement: 'SELECT 1', as_of: '2025-02-30' }, /ISO-8601/],
    ['a time past midnight', { sql_statement: 'SELECT 1', as_of: '2025-01-01T24:00:00Z' }, /ISO-8601/],
    ['a time in words', { sql_statement: 'SELECT 1', as_of: 'yesterday' }, /ISO-8601/],
    ['an empty idempotency key', { sql_statement: 'SELECT 1', idempotency_key: '' }, /1 to 128 printable ASCII/],
    ['a 129-character idempotency key', { sql_statement: 'SELECT 1', idempotency_key: 'k'.repeat(129) }, /1 to 128 printable ASCII/],
    ['a non-ASCII idempotency key', { sql_statement: 'SELECT 1', idempotency_key: 'clé' }, /1 to 128 printable ASCII/],
    // Headers and S3 metadata drop spaces at the ends: "k " would be recorded as "k".
    ['an idempotency key ending in a space', { sql_statement: 'SELECT 1', idempotency_key: 'order-7 ' }, /without spaces at either end/],
    ['an idempotency key starting with a space', { sql_statement: 'SELECT 1', idempotency_key: ' order-7' }, /without spaces at either end/],
    ['an idempotency key of one space', { sql_statement: 'SELECT 1', idempotency_key: ' ' }, /without spaces at either end/],
  ])('refuses %s with a named BadRequestError', (_name, body, message) => {
    expect(() => parseSqlRequest(body, limits)).toThrow(BadRequestError);
    expect(() => parseSqlRequest(body, limits)).toThrow(message);
  });

  it('names an unknown field of a megabyte by its start, not whole, and suggests nothing for it', () => {
    const name = `sql_statement${'x'.repeat(1024 * 1024)}`;
    const refusal = (() => {
      try {
        parseSqlRequest({ sql_statement: 'SELECT 1', [name]: 1 }, limits);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('the request was accepted');
    })();
    expect(refusal).toBe(`unknown field "${name.slice(0, 64)}…"; allowed: sql_statement, params, statements, database, consistency, version, as_of, rows, idempotency_key`);
  });
});

describe('parseSqlHttpRequest', () => {
  const sqlBody = (sql: string) => ({ kind: 'sql' as const, sql });

  it('takes raw SQL as the statement and the options from the query string', () => {
    const parsed = parseSqlHttpRequest({ body: sqlBody('SELECT 1;\nSELECT 2'), query: { database: 'shop', consistency: 'eventual', rows: 'objects' } }, limits);
    expect(parsed).toEqual({
      request: { database: 'shop', consistency: 'eventual', program: { kind: 'script', sql: 'SELECT 1;\nSELECT 2', params: undefined } },
      rows: 'objects',
    });
  });

  it('reads a form whose fields are the JSON fields', () => {
    const parsed = parseSqlHttpRequest({ body: { kind: 'form', fields: [['sql_statement', 'SELECT 1'], ['database', 'shop']] } }, limits);
    expect(parsed.request).toMatchObject({ database: 'shop', program: { kind: 'script', sql: 'SELECT 1' } });
  });

  it('takes the Idempotency-Key header, alone or equal to the body field', () => {
    const json = (value: unknown) => ({ kind: 'json' as const, value });
    expect(parseSqlHttpRequest({ body: sqlBody('SELECT 1'), idempotencyKey: 'k-1' }, limits).request.idempotencyKey).toBe('k-1');
    expect(parseSqlHttpRequest({ body: json({ sql_statement: 'SELECT 1', idempotency_key: 'k-1' }), idempotencyKey: 'k-1' }, limits).request.idempotencyKey).toBe('k-1');
  });

  it.each([
    ['a header and a body key that differ', { body: { kind: 'json', value: { sql_statement: 'SELECT 1', idempotency_key: 'a' } }, idempotencyKey: 'b' }, /differ/],
    ['an idempotency header too long', { body: sqlBody('SELECT 1'), idempotencyKey: 'k'.repeat(129) }, /Idempotency-Key header must be 1 to 128/],
    ['an unknown query parameter, with the nearest known one', { body: sqlBody('SELECT 1'), query: { databse: 'x' } }, /unknown query parameter "databse"; did you mean "database"\?/],
    ['a query parameter the body contradicts', { body: { kind: 'json', value: { sql_statement: 'SELECT 1', database: 'a' } }, query: { database: 'b' } }, /different values/],
    ['a form field given twice', { body: { kind: 'form', fields: [['sql_statement', 'SELECT 1'], ['sql_statement', 'SELECT 2']] } }, /more than once/],
    ['params in a form (they need JSON)', { body: { kind: 'form', fields: [['sql_statement', 'SELECT ?'], ['params', '[1]']] } }, /"params" must be an array/],
    ['a JSON array', { body: { kind: 'json', value: [{ sql_statement: 'SELECT 1' }] } }, /JSON object/],
  ] as const)('refuses %s', (_name, input, message) => {
    expect(() => parseSqlHttpRequest(input as Parameters<typeof parseSqlHttpRequest>[0], limits)).toThrow(message);
  });
});
