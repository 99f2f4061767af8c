import { Connection } from '@temporalio/client';
import mongoose from 'mongoose';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import { stackEnv, uniqueDatabaseName } from '../support/stack-env';

const stack = stackEnv();

describe('the integration test stack', () => {
  describe('the store', () => {
    let connection: mongoose.Connection;

    beforeAll(async () => {
      connection = await mongoose.createConnection(stack.mongodbUri, { dbName: uniqueDatabaseName('devstack'), serverSelectionTimeoutMS: 5_000 }).asPromise();
    });

    afterAll(async () => {
      await connection.dropDatabase();
      await connection.close();
    });

    it('answers a ping through mongoose', async () => {
      await expect(connection.db!.admin().ping()).resolves.toMatchObject({ ok: 1 });
    });

    it('reads back a written document and rejects a duplicate of its unique key', async () => {
      const Probe = connection.model('Probe', new mongoose.Schema({ key: { type: String, required: true, unique: true }, amountCents: Number }));
      await Probe.init();
      await Probe.create({ key: 'top-up-1', amountCents: 5000 });

      await expect(Probe.findOne({ key: 'top-up-1' }).lean()).resolves.toMatchObject({ key: 'top-up-1', amountCents: 5000 });
      await expect(Probe.create({ key: 'top-up-1', amountCents: 1 })).rejects.toMatchObject({ code: 11000 });
      await expect(Probe.countDocuments()).resolves.toBe(1);
    });
  });

  describe('Temporal', () => {
    it('serves the default namespace with the Creditflow search attributes registered', async () => {
      const connection = await Connection.connect({ address: stack.temporalAddress });
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
      const transport = nodemailer.createTransport(stack.smtpUrl);
      await transport.sendMail({ from: 'creditflow@example.test', to: 'owner@example.test', subject, text: 'Your account was credited $60.' });
      transport.close();

      const response = await fetch(`${stack.maildevApiUrl}/api/email`);
      const emails = (await response.json()) as { subject: string }[];
      expect(emails.map((email) => email.subject)).toContain(subject);
    });
  });
});
