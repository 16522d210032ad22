import { ms } from '../../scripts/bench/measure';

/**
 * BENCHMARKS.md prints its figures with `ms`: item 2's indexed lookup (about 1 to 2 µs per query)
 * was printed "0.00 ms vs 0.00 ms" beside a ratio of 1.05×, a row no reader can check.
 */
describe('ms (the bench prints its figures with it)', () => {
  test('a figure below 10 µs is not printed as zero', () => {
    expect(ms(0.0017)).not.toMatch(/^0(\.0+)? ms$/);
  });

  test('two figures of item 2 a microsecond and a half apart are told apart', () => {
    expect(ms(0.0017)).not.toBe(ms(0.0016 * 2));
  });
});
