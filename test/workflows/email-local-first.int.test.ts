import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, type TestApi } from '../support/api';
import { captureBarrier, mailsTo, outboxKeysOf } from '../support/mailbox';
import { openTestStore } from '../support/store';
import { startTestWorker, type TestWorker } from '../support/temporal';
import { purchaseEvent, topUpTrigger } from '../support/top-up';

/**
 * A gate in front of the SMTP capture: open, it passes connections through;
 * shut, it cuts every connection as soon as it is made, as a mail server
 * that has gone away would; refusing, it answers as a mail server that
 * refuses every recipient (550).
 */
class SmtpGate {
  open = true;
  refusing = false;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      if (!this.open) {
        client.destroy();
        return;
      }
      if (this.refusing) {
        refuseRecipients(client);
        return;
      }
      const upstream = net.connect(target.port, target.host);
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
  }

  static async start(smtpUrl: string): Promise<SmtpGate> {
    const target = new URL(smtpUrl);
    const gate = new SmtpGate({ host: target.hostname, port: Number(target.port) });
    await new Promise<void>((resolve) => gate.server.listen(0, '127.0.0.1', resolve));
    return gate;
  }

  get url(): string {
    return `smtp://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Shuts the gate and cuts the connections the mailer's pool holds open. */
  shut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.shut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Talks SMTP just far enough to refuse the recipient for good. */
function refuseRecipients(client: net.Socket): void {
  client.write('220 refusing.test ESMTP\r\n');
  client.on('data', (chunk) => {
    for (const line of chunk.toString('utf8').split('\r\n').filter(Boolean)) {
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'RCPT') client.write('550 5.1.1 no such mailbox\r\n');
      else if (verb === 'QUIT') client.end('221 bye\r\n');
      else if (verb === 'RSET' || verb === 'MAIL' || verb === 'EHLO' || verb === 'HELO' || verb === 'NOOP') client.write('250 ok\r\n');
      else client.write('502 not here\r\n');
    }
  });
  client.on('error', () => undefined);
}

let store: Awaited<ReturnType<typeof openTestStore>>;
let worker: TestWorker;
let api: TestApi;
let gate: SmtpGate;
let mailer: ReturnType<typeof createSmtpMailer>;
const sandbox = createSandbox();

beforeAll(async () => {
  store = await openTestStore('email_local_first');
  gate = await SmtpGate.start(process.env.SMTP_URL ?? '');
  mailer = createSmtpMailer(gate.url, 'Creditflow <no-reply@creditflow.test>');
  const ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
  worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }));
  api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue });
});

afterAll(async () => {
  await api?.close();
  await worker?.stop();
  sandbox.dispose();
  mailer?.close();
  await gate?.close();
  await store?.close();
});

/** Starts a top-up for a user of its own and returns the run's id and the user's address. */
async function purchase(waitSeconds = 0): Promise<{ workflowId: string; email: string }> {
  const resource = `local-first-${randomUUID()}`;
  const created = await api.request('POST', '/v1/triggers', topUpTrigger(resource, waitSeconds));
  expect(created.status).toBe(201);
  const event = purchaseEvent(resource, 5000);
  const accepted = await api.request('POST', '/v1/events', event);
  expect(accepted.status).toBe(202);
  return { workflowId: accepted.body.runs[0].workflowId, email: event.data.reservation.user.email };
}

/** The activity types the server scheduled for the run, and how many local activities it recorded. */
async function executionsOf(workflowId: string): Promise<{ scheduled: string[]; localMarkers: number }> {
  const history = await worker.client.workflow.getHandle(workflowId).fetchHistory();
  const types = temporal.api.enums.v1.EventType;
  const events = history.events ?? [];
  return {
    scheduled: events.filter((event) => event.eventType === types.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? ''),
    localMarkers: events.filter((event) => event.eventType === types.EVENT_TYPE_MARKER_RECORDED).length,
  };
}

describe('the email task: a first attempt in the worker, the regular activity after it', () => {
  it('sends the email from the worker when the mail server answers: the server schedules no activity for the run', async () => {
    const { workflowId, email } = await purchase();
    const result = await worker.client.workflow.getHandle(workflowId).result();
    expect(result.phase).toBe('completed');
    expect(result.tasks.find((task: { id: string }) => task.id === 'notify')).toMatchObject({ status: 'completed' });

    const { scheduled, localMarkers } = await executionsOf(workflowId);
    expect(scheduled).toEqual([]); // no wait: the run begins at its start (TriggerRunInput.runningFromStart)
    expect(localMarkers).toBe(3); // script, credit and notify
    await captureBarrier();
    expect(outboxKeysOf(await mailsTo(email))).toEqual([`${workflowId}:notify`]);
  });

  it('has a run with a cancellation window record that its tasks began before they run in the worker', async () => {
    const { workflowId, email } = await purchase(1);
    const result = await worker.client.workflow.getHandle(workflowId).result();
    expect(result.phase).toBe('completed');

    const { scheduled, localMarkers } = await executionsOf(workflowId);
    expect(scheduled).toEqual(['tasksBegin']); // TriggerRunInput.tasksBeginRecorded
    expect(localMarkers).toBe(3);
    await captureBarrier();
    expect(outboxKeysOf(await mailsTo(email))).toEqual([`${workflowId}:notify`]);
  });

  it('hands a message the mail server refused the connection for to the regular activity, which sends it once the server is back', async () => {
    gate.shut();
    const { workflowId, email } = await purchase();
    const handle = worker.client.workflow.getHandle(workflowId);
    // Wait until the first attempt has failed and the regular activity is scheduled, then let mail through.
    const deadline = Date.now() + 20_000;
    while (!(await executionsOf(workflowId)).scheduled.includes('emailTask')) {
      if (Date.now() > deadline) throw new Error('the email task never reached its regular activity');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(mailer.isFailing()).toBe(true);
    gate.open = true;

    const result = await handle.result();
    expect(result.phase).toBe('completed');
    expect(result.tasks.find((task: { id: string }) => task.id === 'notify')).toMatchObject({ status: 'completed' });
    await captureBarrier();
    expect(outboxKeysOf(await mailsTo(email))).toEqual([`${workflowId}:notify`]);
  }, 60_000);

  it('fails the run at once when the mail server refuses the recipient: no regular activity retries a refusal', async () => {
    gate.shut(); // cuts the pooled connections to the capture, so the next message opens a new one
    gate.refusing = true;
    gate.open = true;
    try {
      const { workflowId } = await purchase();
      const failure = await worker.client.workflow.getHandle(workflowId).result().then(() => undefined, (error: unknown) => error);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause?.message).toMatch(/^task "notify" failed: the mail server refused the message: .*550/);
      expect((await executionsOf(workflowId)).scheduled).toEqual([]);
      expect(mailer.isFailing()).toBe(false); // the server answered: it refused one message, it is not failing
    } finally {
      gate.refusing = false;
      gate.shut();
      gate.open = true;
    }
  }, 60_000);
});
