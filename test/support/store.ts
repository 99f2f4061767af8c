import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { connectStore } from '../../engine/store';

/**
 * A connection to a fresh, uniquely named database on the test store
 * (MONGODB_URI, set by the integration global setup), dropped by `close`.
 */
export async function openTestStore(label: string, options: { recordCommands?: boolean } = {}): Promise<{ connection: Connection; uri: string; dbName: string; commands: CommandLog; close: () => Promise<void> }> {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: integration tests run under the jest integration project');
  const dbName = `cf_test_${label.replace(/[^a-z0-9]/gi, '_').slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const connection = await connectStore(uri, { dbName, monitorCommands: options.recordCommands === true });
  const commands = new CommandLog();
  if (options.recordCommands) connection.getClient().on('commandStarted', (event) => commands.sent.push({ name: event.commandName, command: event.command as Record<string, unknown> }));
  return {
    connection,
    uri,
    dbName,
    commands,
    close: async () => {
      await connection.dropDatabase().catch(() => undefined);
      await connection.close();
    },
  };
}

/** The commands a connection sent to the store (with `recordCommands`), for tests of what a code path reads and writes. */
export class CommandLog {
  sent: Array<{ name: string; command: Record<string, unknown> }> = [];

  clear(): void {
    this.sent = [];
  }
}
