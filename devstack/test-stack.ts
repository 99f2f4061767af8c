import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalServices, type ServicePlan } from './local-services';
import type { ManagedChild } from './managed-child';
import { OrphanReaper } from './orphan-reaper';
import { freePort, LOOPBACK } from './ports';
import { ferretDbDataDir, ferretDbUri, SERVICE_STOP_GRACE_MS } from './services';

/** The addresses integration tests use, exported to them through process.env. */
export interface TestStackEnv {
  /** A base URI without a database; each test picks its own database name. */
  readonly MONGODB_URI: string;
  readonly TEMPORAL_ADDRESS: string;
  readonly SMTP_URL: string;
  /** MailDev's REST API (GET /email, DELETE /email/all). */
  readonly MAILDEV_API_URL: string;
}

export interface TestStack {
  readonly env: TestStackEnv;
  /** Stops what was started and removes the temporary data; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts the services integration tests need, each on a free port chosen
 * now and with its data in a fresh temporary folder, so parallel runs and a
 * running dev stack never collide. Services given by env are used as they
 * are: MONGODB_URI, TEMPORAL_ADDRESS, and SMTP_URL together with
 * MAILDEV_API_URL (tests read mail back through MailDev's API).
 */
export async function startTestStack(env: NodeJS.ProcessEnv, need: StackNeeds = ALL_SERVICES): Promise<TestStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts(env, need);
    } catch (error) {
      // A port probed free can be taken before its service binds it (the
      // Temporal dev server opens several ephemeral ports while the others
      // start), so a clash gets fresh ports rather than a failed run.
      if (attempt >= PORT_CLASH_ATTEMPTS || !/EADDRINUSE|address already in use/i.test(String((error as Error).message))) throw error;
    }
  }
}

/** Which services a caller needs; one left out is neither started nor given in `env` (unless env names it). */
export interface StackNeeds {
  readonly ferretdb: boolean;
  readonly temporal: boolean;
  readonly maildev: boolean;
}

const ALL_SERVICES: StackNeeds = { ferretdb: true, temporal: true, maildev: true };

/** How many times the stack is started on newly chosen ports after a port clash. */
const PORT_CLASH_ATTEMPTS = 3;

async function startOnFreePorts(env: NodeJS.ProcessEnv, need: StackNeeds): Promise<TestStack> {
  const plan = await testPlan(env, need);
  const reaper = new OrphanReaper();
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditflow-test-'));
  const cleanUp = () => {
    reaper.close();
    fs.rmSync(tempDir, { recursive: true, force: true });
  };
  let children: ManagedChild[];
  try {
    children = await startLocalServices(plan, tempDir, { echo: false, reaper });
  } catch (error) {
    cleanUp();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= Promise.all(children.map((child) => child.stop(SERVICE_STOP_GRACE_MS))).then(cleanUp));
  return { env: testEnv(env, plan, tempDir), stop };
}

async function testPlan(env: NodeJS.ProcessEnv, need: StackNeeds): Promise<ServicePlan> {
  const mailGiven = Boolean(env.SMTP_URL && env.MAILDEV_API_URL);
  return {
    ferretdb: env.MONGODB_URI || !need.ferretdb ? undefined : { port: await freePort() },
    temporal: env.TEMPORAL_ADDRESS || !need.temporal ? undefined : { port: await freePort(), persist: false },
    maildev: mailGiven || !need.maildev ? undefined : { smtpPort: await freePort(), webPort: await freePort(), persist: false },
  };
}

function testEnv(env: NodeJS.ProcessEnv, plan: ServicePlan, dataDir: string): TestStackEnv {
  return {
    MONGODB_URI: plan.ferretdb ? ferretDbUri(ferretDbDataDir(dataDir), plan.ferretdb.port, '') : env.MONGODB_URI ?? '',
    TEMPORAL_ADDRESS: plan.temporal ? `${LOOPBACK}:${plan.temporal.port}` : env.TEMPORAL_ADDRESS ?? '',
    SMTP_URL: plan.maildev ? `smtp://${LOOPBACK}:${plan.maildev.smtpPort}` : env.SMTP_URL ?? '',
    MAILDEV_API_URL: plan.maildev ? `http://${LOOPBACK}:${plan.maildev.webPort}` : env.MAILDEV_API_URL ?? '',
  };
}
