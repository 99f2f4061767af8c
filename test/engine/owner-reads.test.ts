import { loadResources } from '../../cli/apply';
import { templateNamesOwner, triggerNamesOwner } from '../../engine/customers/owner-reads';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { documentedTopUpTrigger } from '../../engine/triggers/documented-top-up';
import { REPO_DIR } from '../../devstack/paths';
import { accountKind } from '../../tasks/account';
import type { RunContext, TaskSpec } from '../../workflows/types';

const script = (code: string): TaskSpec => ({ id: 'compute', type: 'script', code }) as TaskSpec;
const withTasks = (...tasks: TaskSpec[]) => ({ on: {}, tasks });

describe('triggerNamesOwner: which runs get their owner context read at ingestion', () => {
  it('is false for the documented top-up: its script, fields and template name neither', () => {
    const trigger = documentedTopUpTrigger({ waitSeconds: 0 }) as unknown as Parameters<typeof triggerNamesOwner>[0];
    expect(triggerNamesOwner(trigger)).toBe(false);
  });

  it('is true for a filter on the owner', () => {
    expect(triggerNamesOwner({ on: { filter: { 'customer.attributes.tier': 'gold' } }, tasks: [] })).toBe(true);
    expect(triggerNamesOwner({ on: { filter: { $expr: { $lt: ['$account.balance', 500] } } }, tasks: [] })).toBe(true);
  });

  it.each([
    ['`when` on the customer', { id: 'credit', type: 'account', action: 'credit', amount: 5, when: { 'customer.attributes.tier': 'gold' } }],
    ['a path into the customer', { id: 'credit', type: 'account', action: 'credit', amountFrom: 'customer.autoTopUp.amount' }],
    ['a reference to the account', { id: 'credit', type: 'account', action: 'credit', amount: 5, owner: '{{account.ownerId}}' }],
    ['an inline email body', { id: 'mail', type: 'email', to: 'a@example.com', subject: 'Hi', text: 'Balance {{account.balance}}' }],
    ['a webhook body deep inside', { id: 'hook', type: 'webhook', url: 'https://example.com', body: { who: { name: '{{customer.name}}' } } }],
  ])('is true for %s', (_label, task) => {
    expect(triggerNamesOwner(withTasks(task as unknown as TaskSpec))).toBe(true);
  });

  it('reads filters by their references: a literal value is data, the whole document is not', () => {
    const when = (filter: Record<string, unknown>) => withTasks({ id: 'credit', type: 'account', action: 'credit', amount: 5, when: filter } as unknown as TaskSpec);
    expect(triggerNamesOwner(when({ 'data.kind': 'account-closure' }))).toBe(false);
    expect(triggerNamesOwner(when({ $expr: { $gt: [{ $size: { $objectToArray: '$$ROOT' } }, 3] } }))).toBe(true);
    expect(triggerNamesOwner({ on: { filter: { 'data.reservation.resource.id': 'account-top-up' } }, tasks: [] })).toBe(false);
  });

  it('is true for a throttle or singleton key on the owner', () => {
    expect(triggerNamesOwner({ ...withTasks(script('return 1;')), throttle: { key: '{{account.ownerId}}', per: 'day' } } as Parameters<typeof triggerNamesOwner>[0])).toBe(true);
    expect(triggerNamesOwner({ ...withTasks(script('return 1;')), singleton: { key: '{{customer.groupId}}' } } as Parameters<typeof triggerNamesOwner>[0])).toBe(true);
  });

  it('is false for what never reads the context: the name, the description, event types and the cancellation path', () => {
    const trigger = {
      ...withTasks(script('return 1;')), name: 'account top-up', description: 'credits the customer account',
      on: { types: ['account.balance_changed'] }, cancelOn: { types: ['account.closed'], correlate: 'data.account.id' }, wait: { seconds: 0 },
    };
    expect(triggerNamesOwner(trigger as Parameters<typeof triggerNamesOwner>[0])).toBe(false);
  });

  it('is true for an onLateCancel task that names the owner', () => {
    const trigger = { ...withTasks(script('return 1;')), onLateCancel: { tasks: [script('return customer;')] } };
    expect(triggerNamesOwner(trigger)).toBe(true);
  });

  it.each([
    ['the name', 'return customer.name;'],
    ['the account', 'return { low: account.balance < 500 };'],
    ['`arguments`', 'return arguments[10];'],
    ['a direct eval', "return eval('cust' + 'omer');"],
    ['an escaped identifier', 'return \\u0063ustomer;'],
  ])('is true for a script that reaches the owner through %s', (_label, code) => {
    expect(triggerNamesOwner(withTasks(script(code)))).toBe(true);
  });

  it('is false for words that only contain the names, and for ids and template names', () => {
    const trigger = withTasks(
      script('const customerCount = 1; const accounts = []; return { customerCount, accounts };'),
      { id: 'account', type: 'email', template: 'account-credited', inputTaskId: 'account' } as unknown as TaskSpec,
    );
    expect(triggerNamesOwner(trigger)).toBe(false);
  });
});

describe('triggerNamesOwner: fields read for what they are (TaskKind.contextFields)', () => {
  const email = (fields: Record<string, string>) => withTasks({ id: 'mail', type: 'email', to: '{{reservation.user.email}}', subject: 's', text: 't', ...fields } as unknown as TaskSpec);

  it('judges an email\'s subject and bodies by their expressions: prose naming the account is no reference', () => {
    expect(triggerNamesOwner(email({ subject: 'Your account was credited', text: 'Hello {{reservation.user.name}}, your account has {{DOLLARS}} more.' }))).toBe(false);
    expect(triggerNamesOwner(email({ html: '<p>The customer team thanks you.</p>' }))).toBe(false);
  });

  it.each([
    ['a name in a body', { text: 'Balance {{account.balance}}' }],
    ['a triple-stash in the html', { html: '<p>{{{customer.name}}}</p>' }],
    ['a block over the whole context', { text: '{{#with this}}{{name}}{{/with}}' }],
    ['@root', { subject: '{{@root.customer.name}}' }],
    ['lookup', { text: '{{lookup . "customer"}}' }],
    ['../ out of a block', { text: '{{#each reservation.items}}{{../account}}{{/each}}' }],
    ['a name after a string holding the closing braces', { text: '{{foo "}}" account.balance}}' }],
    ['a string literal where a helper\'s name goes', { text: 'Hello {{"customer"}}' }],
    ['a string literal as a block\'s name', { text: '{{#"customer"}}{{name}}{{/"customer"}}' }],
    ['a string literal as a subexpression\'s name', { html: '{{#with ("account")}}{{balance}}{{/with}}' }],
    ['lookup spelled as a string literal', { text: '{{"lookup" . data.key}}' }],
  ])('still counts %s in an email', (_label, fields) => {
    expect(triggerNamesOwner(email(fields))).toBe(true);
  });

  it('judges a whole `{{path}}` reference by where its path starts: the event\'s data is not the owner context', () => {
    const transfer = (to: string) => withTasks({ id: 'pay', type: 'transfer', from: 'partner_master', to, amount: 5, unit: 'USD' } as unknown as TaskSpec);
    expect(triggerNamesOwner(transfer('{{data.customer.id}}'))).toBe(false);
    expect(triggerNamesOwner(transfer('{{customer.id}}'))).toBe(true);
    expect(triggerNamesOwner(transfer('{{ account.ownerId }}'))).toBe(true);
    expect(triggerNamesOwner(transfer('pre-{{data.customer.id}}'))).toBe(true);
    // In a script the braces are blocks, and a `-` in the path a subtraction that reads the account.
    expect(triggerNamesOwner(withTasks(script('{{data.x-account.balance}}')))).toBe(true);
  });

  it('does not judge an entry\'s comment, which is posted as written', () => {
    expect(triggerNamesOwner(withTasks({ id: 'charge', type: 'account', action: 'debit', amount: 5, comment: 'Paid from the account balance' } as unknown as TaskSpec))).toBe(false);
    expect(triggerNamesOwner(withTasks({ id: 'pay', type: 'transfer', from: 'partner_master', to: '{{data.buyer}}', amount: 5, unit: 'USD', comment: 'to the customer account' } as unknown as TaskSpec))).toBe(false);
    // What makes that safe: the account kind hands the comment to the ledger untouched.
    const context = { event: { id: 'e', type: 't', occurredAt: '2026-12-04T00:00:00Z', data: {} }, data: {}, tasks: {}, results: {}, trigger: { id: 'trg', name: 'T', version: 1 }, customer: { name: 'Ada' } } as unknown as RunContext;
    const prepared = accountKind.prepare({ id: 'c', type: 'account', action: 'credit', amount: 5, unit: 'USD', owner: 'u1', comment: '{{customer.name}}' } as never, context, { key: 'k', workflowId: 'w', taskId: 'c' } as never);
    expect(prepared).toMatchObject({ request: { comment: '{{customer.name}}' } });
  });

  it('judges the shipped examples: those that only mention the words go without, those that read the owner do not', () => {
    const triggers = new Map(loadResources(REPO_DIR, ['examples']).filter((resource) => resource.kind === 'trigger').map((resource) => [resource.name, resource.body as unknown as Parameters<typeof triggerNamesOwner>[0]]));
    for (const key of ['account-top-up', 'package-top-up', 'pay-from-balance', 'listing-fee', 'partner-wallet']) expect([key, triggerNamesOwner(triggers.get(key)!)]).toEqual([key, false]);
    for (const key of ['auto-top-up', 'low-balance-reminder']) expect([key, triggerNamesOwner(triggers.get(key)!)]).toEqual([key, true]);
  });
});

describe('templateNamesOwner: whether an email of a run without its owner context reads it as it renders', () => {
  it('is true when an expression names the owner', () => {
    expect(templateNamesOwner({ subject: 'Hi {{customer.name}}', text: 'x' })).toBe(true);
    expect(templateNamesOwner({ subject: 'Hi', text: 'x', html: '<p>{{{account.balance}}}</p>' })).toBe(true);
  });

  it('is true for expressions that walk the whole context', () => {
    expect(templateNamesOwner({ subject: 's', text: '{{#each this}}{{@key}}{{/each}}' })).toBe(true);
    expect(templateNamesOwner({ subject: 's', text: '{{#each data.items}}{{@root.customer}}{{/each}}' })).toBe(true);
    expect(templateNamesOwner({ subject: 's', text: '{{#with data}}{{../customer}}{{/with}}' })).toBe(true);
    expect(templateNamesOwner({ subject: 's', text: '{{lookup data "x"}}' })).toBe(true);
  });

  it('is false for prose outside expressions, and for the bundled account-credited template', async () => {
    expect(templateNamesOwner({ subject: 'Your account', text: 'The customer service team thanks you. {{DOLLARS}}' })).toBe(false);
    const bundled = await fileTemplateCatalog(BUNDLED_TEMPLATES_DIR).get('account-credited');
    expect(bundled).not.toBeNull();
    expect(templateNamesOwner(bundled!)).toBe(false);
  });
});
