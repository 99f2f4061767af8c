import { runDev } from './dev-command';
import { DevstackError } from './devstack-error';
import { say } from './say';
import { runTest } from './test-command';
import { ensureTools } from './tools';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS shared with bootstrap.cjs
const { onParentExit } = require('./parent-watch.cjs') as { onParentExit: (handler: () => void) => void };

const USAGE = 'usage: npm run dev | npm test [-- jest args] | npm run setup';

/**
 * The dev stack's commands, loaded by devstack/bootstrap.cjs once Node 24
 * and the dependencies are in place. `run <file>` never gets here: the
 * bootstrap starts such entries as their own processes.
 */
export function main(args: readonly string[]): void {
  watchParent();
  dispatch(args).then(
    (exitCode) => process.exit(exitCode),
    (error: unknown) => {
      if (!(error instanceof DevstackError)) throw error;
      process.stderr.write(`devstack | error: ${error.message}\n`);
      process.exit(1);
    },
  );
}

async function dispatch([command, ...rest]: readonly string[]): Promise<number> {
  switch (command) {
    case 'dev':
      return runDev();
    case 'test':
      return runTest(rest);
    case 'setup':
      await ensureTools({ ferretdb: !process.env.MONGODB_URI, temporal: !process.env.TEMPORAL_ADDRESS, chromium: true });
      say('tools are ready');
      return 0;
    default:
      throw new DevstackError('usage', USAGE);
  }
}


/**
 * Stops us as if we got SIGTERM when our parent goes away without passing a
 * signal on, so our children are not left running. When the bootstrap
 * re-ran us under Node 24, it holds an IPC channel to us that closes if it
 * is killed outright. Otherwise our parent is npm, which does not forward
 * SIGTERM; we notice being re-parented instead.
 */
function watchParent(): void {
  const stop = () => process.kill(process.pid, 'SIGTERM');
  if (process.channel) {
    process.on('disconnect', stop);
    process.channel.unref();
    return;
  }
  onParentExit(stop);
}
