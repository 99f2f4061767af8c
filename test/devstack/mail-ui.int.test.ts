// `npm run demo` against a real API and worker, then the mail UI a user
// opens from the dev banner, in headless Chromium: the demo's email must be
// there to read.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createWebhookSecrets } from '../../engine/triggers/webhook-secrets';
import { createWebhookSender } from '../../engine/webhooks';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from '../support/api';
import { launchBrowser } from '../support/browser';
import { openTestStore } from '../support/store';
import { startTestWorker, type TestWorker } from '../support/temporal';

const REPO_DIR = path.resolve(__dirname, '..', '..');
const execFileAsync = promisify(execFile);
let store: Awaited<ReturnType<typeof openTestStore>>;
let worker: TestWorker;
let api: TestApi;
let browser: Browser;
const sandbox = createSandbox();
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');

beforeAll(async () => {
  store = await openTestStore('mail_ui');
  const ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
  // As in the dev stack: the demo's webhook receiver listens on 127.0.0.1, and the API seals secrets under the admin key.
  const secrets = createWebhookSecrets({ connection: store.connection, pepper: TEST_ADMIN_KEY });
  worker = await startTestWorker(createActivities({
    connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR),
    webhooks: createWebhookSender({ allowedHosts: ['127.0.0.1'] }),
    webhookSecret: (triggerId) => secrets.current(triggerId),
  }));
  api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await worker?.stop();
  sandbox.dispose();
  mailer.close();
  await store?.close();
});

describe('the mail UI after npm run demo', () => {
  it('lists the email the demo sent, and opens it', async () => {
    const demo = await execFileAsync(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'devstack', 'demo.ts')], {
      cwd: REPO_DIR,
      env: { ...process.env, CREDITFLOW_API_URL: api.baseUrl, ADMIN_API_KEY: TEST_ADMIN_KEY },
      timeout: 110_000,
    });
    expect(demo.stdout).toContain('Your account was credited with $60');
    expect(demo.stdout).toContain('Creditflow-Signature: verified with the trigger\'s webhook secret');

    const page = await browser.newPage();
    await page.goto(process.env.MAILDEV_API_URL!);
    const item = page.locator('li.email-item', { hasText: 'Your account was credited with $60' }).filter({ hasText: 'ada@example.com' }).first();
    await item.waitFor({ state: 'visible', timeout: 15_000 });
    await item.click();
    // The message opens beside the list with its HTML body in a frame.
    const amount = page.frameLocator('iframe').first().locator('strong', { hasText: '$60' });
    await amount.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await amount.textContent()).toBe('$60');
  });
});
