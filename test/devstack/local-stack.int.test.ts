import { Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import { mailsTo } from '../support/mailbox';
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
      const subject = `devstack probe ${randomUUID()}`;
      const transport = nodemailer.createTransport(process.env.SMTP_URL ?? '');
      await transport.sendMail({ from: 'creditflow@example.test', to: 'owner@example.test', subject, text: 'Your account was credited $60.' });
      transport.close();

      const emails = await mailsTo('owner@example.test');
      expect(emails.map((email) => email.subject)).toContain(subject);
    });
  });
});
