import type { ScriptInput, ScriptResult } from '../../scripts-sandbox';

/** The documented `script` task from api-v1.md. */
export const DOCUMENTED_SCRIPT = [
  'let amount = 0;',
  'if (reservation.price_int === 5000) amount = 6000;',
  'if (reservation.price_int === 10000) amount = 15000;',
  "return { amount_cents: amount, vars: { DOLLARS: '$' + Math.trunc(amount / 100) } };",
].join('\n');

/** A `request.created` event for a reservation at `priceInt` cents. */
export function reservationEvent(priceInt: number): ScriptInput {
  return {
    event: {
      type: 'request.created',
      data: { reservation: { id: 'r-1', price_int: priceInt, resource: { id: 'account-top-up' }, user: { id: 'u-1', email: 'a@example.com' } } },
    },
  };
}

/** Narrows a result to a failure, failing the test with the output otherwise. */
export function expectFailure(result: ScriptResult): Extract<ScriptResult, { ok: false }> {
  if (result.ok) throw new Error(`expected the run to fail, got output ${JSON.stringify(result.output)}`);
  return result;
}

/** Narrows a result to a success, failing the test with the error otherwise. */
export function expectSuccess(result: ScriptResult): Extract<ScriptResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected the run to succeed, got ${JSON.stringify(result.error)}`);
  return result;
}
