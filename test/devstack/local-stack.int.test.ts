import { Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import { waitForMails } from '../support/mailbox';
import { openTestStore } from '../support/store';
import { temporalAddress } from '../support/temporal';

// Writing, reading back and the unique-index refusal are covered in
// test/engine/store.int.test.ts; here each service only has to answer.
describe('the integration test stack', () => {
  describe('the store', () => {
    it('answers a ping through mongoose', async () => {
      const store = await openTestStore('devstack');
      try {
        await expect(store.connection.db!.admin().ping()).resolves.toMatchObject({ ok: 1 });
      } finally {
        await store.close();
      }
    });
  });

  describe('Temporal', () => {
    it('serves the default namespace with the Creditflow search attributes registered', async () => {
      const connection = await Connection.connect({ address: temporalAddress() });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(['CreditflowTriggerId', 'CreditflowEventId']));
      } finally {
        await connection.close();
      }
    });
  });

  describe('MailDev', () => {
    it('captures a message sent over SMTP and lists it in its API', async () => {
      const probe = randomUUID();
      const [subject, to] = [`devstack probe ${probe}`, `owner-${probe}@example.test`];
      const transport = nodemailer.createTransport(process.env.SMTP_URL ?? '');
      await transport.sendMail({ from: 'creditflow@example.test', to, subject, text: 'Your account was credited $60.' });
      transport.close();

      // MailDev lists a message once it has parsed it, a moment after the SMTP exchange ends.
      const emails = await waitForMails(to, 1);
      expect(emails.map((email) => email.subject)).toContain(subject);
    });
  });
});
