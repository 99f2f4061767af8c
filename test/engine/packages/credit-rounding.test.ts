import { minorDigitsOf, priceInWholeCredits, roundToWholeCredits } from '../../../engine/packages/credit-rounding';

describe('rounding prices to whole credits', () => {
  it.each([
    ['0.01', 1n, 100n, 1n],
    ['0.99', 99n, 100n, 1n],
    ['1.00', 100n, 100n, 1n],
    ['1.49', 149n, 100n, 1n],
    ['1.4999', 14999n, 10000n, 1n],
    ['1.50', 150n, 100n, 2n],
    ['2.50', 250n, 100n, 3n],
    ['2.675', 2675n, 1000n, 3n],
    ['49.99', 4999n, 100n, 50n],
    ['100.00', 10000n, 100n, 100n],
  ])('turns %s into %s credits', (_label, numerator, denominator, expected) => {
    expect(roundToWholeCredits(numerator, denominator)).toBe(expected);
  });

  it('keeps a free price free', () => {
    expect(roundToWholeCredits(0n, 100n)).toBe(0n);
  });

  it('refuses a negative price and a zero denominator', () => {
    expect(() => roundToWholeCredits(-1n, 100n)).toThrow(RangeError);
    expect(() => roundToWholeCredits(1n, 0n)).toThrow(RangeError);
  });
});

describe('a price converted at a rate', () => {
  it('reads the minor unit of the currency', () => {
    expect([minorDigitsOf('USD'), minorDigitsOf('JPY'), minorDigitsOf('KWD'), minorDigitsOf('CREDIT')]).toEqual([2, 0, 3, 0]);
  });

  it.each([
    [4999, 'USD', '1', 50],
    [50, 'USD', '1', 1],
    [149, 'USD', '1', 1],
    [150, 'USD', '1', 2],
    [10000, 'USD', '0.8', 80],
    [1875, 'USD', '0.8', 15],
    [1870, 'USD', '0.8', 15],
    [1812, 'USD', '0.8', 14],
    [1500, 'JPY', '0.01', 15],
    [1500, 'KWD', '2', 3],
    [0, 'USD', '1', 0],
  ])('%s minor units of %s at %s credits each is %s credits', (amount, currency, rate, expected) => {
    expect(priceInWholeCredits(amount, currency, rate)).toBe(expected);
  });

  it('refuses a rate that is no plain decimal', () => {
    expect(() => priceInWholeCredits(100, 'USD', '1e3')).toThrow(RangeError);
    expect(() => priceInWholeCredits(100, 'USD', '-1')).toThrow(RangeError);
    expect(() => priceInWholeCredits(100, 'USD', '0.1234567')).toThrow(RangeError);
  });
});
