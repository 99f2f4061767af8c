import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { documentedTopUpTrigger, TOP_UP_SCRIPT, topUpEvent } from '../../engine/triggers/documented-top-up';

const EXAMPLE_DIR = path.resolve(__dirname, '../../examples/account-top-up');
const read = (name: string) => readFileSync(path.join(EXAMPLE_DIR, name), 'utf8');

describe('the account top-up example', () => {
  it('is the documented top-up trigger, apart from its name, key and window', () => {
    const { kind, key, name: _name, wait, ...example } = parse(read('trigger.yaml')) as Record<string, unknown>;
    const { name: _documentedName, wait: _documentedWait, ...documented } = documentedTopUpTrigger({ waitSeconds: 0 });
    expect(kind).toBe('trigger');
    expect(key).toBe('account-top-up');
    expect(wait).toEqual({ seconds: 1800 });
    expect(example).toEqual(documented);
  });

  it('keeps the script beside it, for script test, identical to the trigger\'s', () => {
    expect(read('compute.js').trimEnd()).toBe(TOP_UP_SCRIPT);
  });

  it('ships sample events of the documented shape, for the same reservation', () => {
    const user = { id: 'user_42', email: 'ada@example.com', name: 'Ada' };
    expect(JSON.parse(read('purchase.event.json'))).toEqual(topUpEvent({ eventId: 'evt_example_purchase_1', reservationId: 'res_example_1', priceInt: 5000, user }));
    expect(JSON.parse(read('cancel.event.json'))).toEqual(topUpEvent({ eventId: 'evt_example_cancel_1', type: 'request.cancelled', reservationId: 'res_example_1', priceInt: 5000, user }));
  });
});
