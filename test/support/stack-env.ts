import { randomBytes } from 'node:crypto';

/** The stack's addresses as the integration global setup exported them. */
export interface StackEnv {
  readonly mongodbUri: string;
  readonly temporalAddress: string;
  readonly smtpUrl: string;
  readonly maildevApiUrl: string;
}

/**
 * Reads the addresses once per test file; a missing one means the test is
 * not running in the integration project, which is a setup mistake.
 */
export function stackEnv(env: NodeJS.ProcessEnv = process.env): StackEnv {
  const read = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: integration tests run under test/support/global-setup.ts (files named *.int.test.ts)`);
    return value;
  };
  return { mongodbUri: read('MONGODB_URI'), temporalAddress: read('TEMPORAL_ADDRESS'), smtpUrl: read('SMTP_URL'), maildevApiUrl: read('MAILDEV_API_URL') };
}

/** A database name no other test file or run uses, so tests never see each other's data. */
export function uniqueDatabaseName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}
