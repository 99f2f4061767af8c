import { isMalformedReference, parseReference, resolveText, valueAtPath } from '../../workflows/references';
import { accountAmount, emailVariables, TaskInputError } from '../../workflows/task-inputs';

const scope = { reservation: { id: 'res_1', user: { id: 'user_42', email: 'ada@example.com' }, price_int: 5000 } };

describe('{{path}} references', () => {
  it('resolves a whole reference to the value at its path', () => {
    expect(resolveText('{{reservation.user.id}}', scope)).toBe('user_42');
    expect(resolveText('{{ reservation.price_int }}', scope)).toBe('5000');
  });

  it('keeps a literal as it is', () => {
    expect(resolveText('ops@example.com', scope)).toBe('ops@example.com');
  });

  it('names the path when nothing is there, instead of resolving to an empty string', () => {
    expect(() => resolveText('{{reservation.user.phone}}', scope)).toThrow(/reservation\.user\.phone/);
  });

  it('never reads inherited properties', () => {
    expect(valueAtPath(scope, 'reservation.constructor')).toBeUndefined();
    expect(valueAtPath(scope, '__proto__')).toBeUndefined();
  });

  it('tells a malformed reference from a literal', () => {
    expect(parseReference('{{a.b}}')).toBe('a.b');
    expect(isMalformedReference('Dear {{name}}')).toBe(true);
    expect(isMalformedReference('plain')).toBe(false);
  });
});

describe('task inputs', () => {
  const task = { id: 'credit', type: 'account' as const, action: 'credit' as const, inputTaskId: 'compute', owner: '{{reservation.user.id}}', unit: 'USD', createIfMissing: true };

  it('takes the amount from the input task and refuses anything but a non-negative integer', () => {
    expect(accountAmount(task, { compute: { amount_cents: 6000 } })).toBe(6000);
    expect(() => accountAmount(task, { compute: { amount_cents: 60.5 } })).toThrow(TaskInputError);
    expect(() => accountAmount(task, { compute: { amount_cents: -1 } })).toThrow(/non-negative integer/);
    expect(() => accountAmount(task, { compute: {} })).toThrow(/amount_cents/);
  });

  it('prefers a literal amount', () => {
    expect(accountAmount({ ...task, amount: 250 }, {})).toBe(250);
  });

  it('puts the input task vars at the top level of email variables', () => {
    const event = { id: 'e', type: 'request.created', occurredAt: '', data: scope };
    const vars = emailVariables({ id: 'notify', type: 'email', inputTaskId: 'compute', to: 'x' }, event, { compute: { vars: { DOLLARS: '$60' } } });
    expect(vars).toMatchObject({ DOLLARS: '$60', reservation: scope.reservation, event });
  });
});
