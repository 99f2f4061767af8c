// examples/new-agent-credits applied through the CLI's apply code (seed
// 003's initial balance per user group): a new agent put in the group gets
// 10 free credits once, and an email about them from the welcome trigger,
// which sees the agent's profile as `customer`.
import { randomUUID } from 'node:crypto';
import { waitForMails } from '../support/mailbox';
import { startExampleStack, type ExampleStack } from './example-stack';

let stack: ExampleStack;

beforeAll(async () => {
  stack = await startExampleStack('example_new_agents', { balanceEvents: true });
  const results = await stack.apply('examples/new-agent-credits');
  expect(results.map((r) => `${r.kind} ${r.name} ${r.action}`)).toEqual(['group new-agents created', 'trigger new-agent-welcome created']);
});

afterAll(async () => {
  await stack?.close();
});

const creditEntries = async (ownerId: string) => (await stack.api.request('GET', `/v1/accounts/${ownerId}/entries?unit=CREDIT`)).body.items as Array<{ amount: number; source: { kind: string; groupId?: string } }>;

describe('the new-agent-credits example', () => {
  it('gives a new agent 10 credits once and welcomes them by email', async () => {
    const email = `agent-${randomUUID().slice(0, 8)}@example.com`;
    const agent = `agent_${randomUUID().slice(0, 8)}`;
    const saved = await stack.api.request('PUT', `/v1/customers/${agent}`, { email, name: 'Nora Agent', groupId: 'new-agents' });
    expect(saved).toMatchObject({ status: 201, body: { openingBalance: { groupId: 'new-agents', amounts: { CREDIT: 10 } } } });
    expect(await creditEntries(agent)).toEqual([expect.objectContaining({ amount: 10, source: { kind: 'opening', groupId: 'new-agents' } })]);

    const [mail] = await waitForMails(email, 1, 30_000);
    expect(mail).toMatchObject({ subject: 'Welcome, Nora Agent: 10 free credits' });
    expect(mail!.text).toContain('starts with 10 credits');

    // Saving the agent again, moving them away and back: no second grant.
    await stack.api.request('PUT', `/v1/customers/${agent}`, { email, name: 'Nora A.', groupId: 'new-agents' });
    await stack.api.request('PUT', `/v1/customers/${agent}`, { email, name: 'Nora A.' });
    await stack.api.request('PUT', `/v1/customers/${agent}`, { email, name: 'Nora A.', groupId: 'new-agents' });
    expect(await creditEntries(agent)).toHaveLength(1);
  }, 60_000);

  it('applies again without changes, and refuses to delete the group while agents are in it', async () => {
    expect((await stack.apply('examples/new-agent-credits')).map((r) => r.action)).toEqual(['unchanged', 'unchanged']);
    expect(await stack.api.request('DELETE', '/v1/groups/new-agents')).toMatchObject({ status: 409, body: { code: 'group_in_use' } });
  });
});
