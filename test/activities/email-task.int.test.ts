import { randomUUID } from 'node:crypto';
import { createSendEmailTask } from '../../activities/email-task';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { outboxKeysOf, sentMailTo } from '../support/mailbox';
import { openTestStore } from '../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');

beforeAll(async () => {
  store = await openTestStore('email_task');
});

afterAll(async () => {
  mailer.close();
  await store?.close();
});

const variables = (email: string) => ({ DOLLARS: '$60', reservation: { id: 'res_1', user: { name: 'Ada', email }, resource: { name: 'Account Top-Up' } } });

describe('the email activity', () => {
  it('sends once per outbox key however often it is retried', async () => {
    const send = createSendEmailTask({ connection: store.connection, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) });
    const to = `ada-${randomUUID()}@example.com`;
    const request = { outboxKey: `wf-${randomUUID()}:notify`, to, template: 'account-credited', variables: variables(to) };

    const first = await send(request);
    const retried = await send(request);
    expect(first).toMatchObject({ alreadySent: false, subject: 'Your account was credited with $60' });
    expect(retried).toEqual({ ...first, alreadySent: true });
    // Both calls have returned: the outbox holds everything they sent.
    const { recorded, captured } = await sentMailTo(store.connection, to);
    expect(recorded.map((record) => record._id)).toEqual([request.outboxKey]);
    expect(outboxKeysOf(captured)).toEqual([request.outboxKey]);
    expect(captured[0]!.text).toContain('Hello Ada');
  });

  it('fails for good, sending nothing, when the template needs a variable the run lacks', async () => {
    const send = createSendEmailTask({ connection: store.connection, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) });
    const to = `bob-${randomUUID()}@example.com`;
    const { DOLLARS: _omitted, ...withoutDollars } = variables(to);
    await expect(send({ outboxKey: `wf-${randomUUID()}:notify`, to, template: 'account-credited', variables: withoutDollars }))
      .rejects.toMatchObject({ type: 'template_variable_missing', nonRetryable: true });
    const { recorded, captured } = await sentMailTo(store.connection, to);
    expect(recorded).toEqual([]);
    expect(captured.map((mail) => mail.subject)).toEqual([]);
  });
});
