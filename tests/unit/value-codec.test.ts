import { decodeCell, encodeParam } from '../../clients/typescript/src/index.ts';
import { decodeParam, encodeValue } from '../../functions/core/value-codec';

describe('the value codec', () => {
  it.each([
    ['a small integer', 42n, 42],
    ['the largest safe integer', 9007199254740991n, 9007199254740991],
    ['one past it, as a string', 9007199254740992n, '9007199254740992'],
    ['the smallest int64, as a string', -9223372036854775808n, '-9223372036854775808'],
    ['a real', 2.5, 2.5],
    ['infinity, as a string', Infinity, 'Infinity'],
    ['text', 'ünïcode', 'ünïcode'],
    ['null', null, null],
    ['a blob', new Uint8Array([0, 255, 16]), { base64: 'AP8Q' }],
  ])('encodes %s', (_name, value, json) => {
    expect(encodeValue(value)).toEqual(json);
  });

  it.each([
    ['true as 1', true, 1],
    ['false as 0', false, 0],
    ['an integral number', 7, 7],
    ['a fraction', 0.1, 0.1],
    ['a string', 'x', 'x'],
    ['null', null, null],
    ['a tagged integer', { integer: '123456789012345678' }, 123456789012345678n],
    ['a tagged blob', { base64: 'AP8Q' }, new Uint8Array([0, 255, 16])],
  ])('decodes %s', (_name, json, value) => {
    expect(decodeParam(json, 'p')).toEqual(value);
  });

  it('round-trips every int64 edge through JSON exactly', () => {
    for (const edge of ['9223372036854775807', '-9223372036854775808', '9007199254740993']) {
      expect(encodeValue(decodeParam({ integer: edge }, 'p'))).toBe(edge);
    }
  });

  it('the client side inverts the server side: params and result cells survive the trip', () => {
    for (const value of [null, 7, 2.5, 'text', -9223372036854775808n, new Uint8Array([1, 2, 3])]) {
      expect(decodeParam(encodeParam(value), 'p')).toEqual(value);
    }
    expect(decodeCell(encodeValue(new Uint8Array([9, 8])), 'plain')).toEqual(new Uint8Array([9, 8]));
    expect(decodeCell(encodeValue(42n), 'plain')).toBe(42);
    expect(decodeCell(encodeValue(-9223372036854775808n), 'auto')).toBe(-9223372036854775808n);
    expect(decodeCell(encodeValue(42n), 'bigint')).toBe(42n);
  });
});
