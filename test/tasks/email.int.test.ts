// The email task's recipient comes from event data, so it must be one
// address: a list, or a header break smuggling a Bcc, fails the task and
// nothing is sent to anyone.
import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';
import { mailsTo, waitForMails } from '../support/mailbox';

let engine: EngineHarness;
let type: string;

beforeAll(async () => {
  engine = await startEngineHarness('email_task');
  type = `mail${randomUUID().slice(0, 8)}.created`;
  await engine.createTrigger({ name: 'Receipt', on: { types: [type] }, tasks: [{ id: 'receipt', type: 'email', to: '{{data.email}}', subject: 'Receipt {{data.ref}}', text: 'Thank you.' }] });
});

afterAll(async () => {
  await engine?.close();
});

const send = (email: unknown) => engine.sendAndSettle({ id: `evt_${randomUUID()}`, type, data: { email, ref: randomUUID().slice(0, 8) } });

describe('the email recipient', () => {
  it('is sent to one address from the event', async () => {
    const address = `${randomUUID().slice(0, 8)}@example.com`;
    const [run] = (await send(address)).runs;
    expect(run!.tasks[0]).toMatchObject({ status: 'completed', output: { to: address } });
    expect(await waitForMails(address, 1)).toHaveLength(1);
  });

  it.each([
    ['a list of addresses', (a: string, b: string) => `${a}, ${b}`],
    ['a header break adding a Bcc', (a: string, b: string) => `${a}\r\nBcc: ${b}`],
    ['a display name with an address', (a: string, b: string) => `"${a}" <${b}>`],
    ['a list separated by semicolons', (a: string, b: string) => `${a};${b}`],
  ])('fails with recipient_invalid for %s, sending nothing to anyone', async (_title, build) => {
    const [first, second] = [`${randomUUID().slice(0, 8)}@example.com`, `${randomUUID().slice(0, 8)}@example.org`];
    const [run] = (await send(build(first, second))).runs;
    expect(run!.status).toBe('failed');
    expect(run!.tasks[0].error).toMatchObject({ code: 'recipient_invalid' });
    expect([...(await mailsTo(first)), ...(await mailsTo(second))]).toEqual([]);
  });

  it('is refused at save when a literal to is not one address', async () => {
    const response = await engine.api.request('POST', '/v1/triggers', { name: 'Bad', on: { types: [type] }, tasks: [{ id: 'm', type: 'email', to: 'a@example.com, b@example.com', subject: 's', text: 't' }] });
    expect(response.status).toBe(422);
    expect(response.body.errors.map((error: { path: string }) => error.path)).toContain('tasks.0.to');
  });
});
