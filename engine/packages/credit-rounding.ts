/**
 * The currency switch's rounding (seed 003, iRealty): credits are whole, so
 * when prices move from money to credits, a price below 1 credit becomes 1
 * and any other is rounded half up (x.4999 down, x.5 up). A price of
 * exactly 0 stays 0: a free package stays free. Pure and exact: the value
 * is a fraction of integers, never a float, so 2.675 is not 2.67499....
 */
export function roundToWholeCredits(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('the denominator must be positive');
  if (numerator < 0n) throw new RangeError('a price cannot be negative');
  if (numerator === 0n) return 0n;
  if (numerator < denominator) return 1n;
  return (2n * numerator + denominator) / (2n * denominator);
}

/** A conversion rate as a decimal string: credits per major unit of the currency (e.g. "1", "0.8"), up to 9 integer and 6 fraction digits. */
export const RATE_PATTERN = /^(0|[1-9]\d{0,8})(\.\d{1,6})?$/;

/** Digits after the decimal point of a currency's minor unit (2 for USD, 0 for JPY and CREDIT, 3 for KWD), from ICU. */
export function minorDigitsOf(currency: string): number {
  if (currency === 'CREDIT') return 0;
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/**
 * A price in minor units of `currency`, converted at `rate` credits per
 * major unit and rounded to whole credits by roundToWholeCredits.
 * Example: 4999 USD cents at "1" is 49.99 credits, so 50; 50 cents is 1.
 */
export function priceInWholeCredits(amountMinor: number, currency: string, rate: string): number {
  if (!Number.isSafeInteger(amountMinor)) throw new RangeError('the amount must be an integer in minor units');
  const match = RATE_PATTERN.exec(rate);
  if (!match) throw new RangeError(`the rate "${rate}" is no decimal such as 1 or 0.8`);
  const fraction = (match[2] ?? '').slice(1);
  const rateNumerator = BigInt(match[1]! + fraction);
  const rateDenominator = 10n ** BigInt(fraction.length);
  const numerator = BigInt(amountMinor) * rateNumerator;
  const denominator = 10n ** BigInt(minorDigitsOf(currency)) * rateDenominator;
  return Number(roundToWholeCredits(numerator, denominator));
}
