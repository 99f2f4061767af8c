// Records the histories the replay test (test/workflows/replay.test.ts)
// replays: real runs of the workflow as it was when they were recorded, on a
// throwaway stack. Run it when a release changes the workflow, keeping the
// older files, so every history a running deployment may still hold is
// replayed against the new code:
//
//   node devstack/bootstrap.cjs run test/workflows/histories/record.ts <label>
//
// It writes <label>-<scenario>.json beside itself.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTestStack } from '../../../devstack/test-stack';
import { ensureTools } from '../../../devstack/tools';
import { recordScenarios } from './scenarios';

async function main(): Promise<void> {
  const label = process.argv[2];
  if (!label || !/^[a-z0-9-]+$/.test(label)) throw new Error('usage: record.ts <label>, e.g. 2026-12-02');
  const { temporal } = await ensureTools({ ferretdb: !process.env.MONGODB_URI, temporal: true });
  const stack = await startTestStack(process.env);
  Object.assign(process.env, stack.env);
  try {
    // The test support modules read the stack's addresses from env when called.
    for (const [scenario, workflowId] of Object.entries(await recordScenarios())) {
      const file = path.join(__dirname, `${label}-${scenario}.json`);
      // Temporal's own JSON form of a history, the one its tools exchange.
      const history = execFileSync(temporal!, ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.env.TEMPORAL_ADDRESS, '-o', 'json'], { encoding: 'utf8' });
      fs.writeFileSync(file, history);
      process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
    }
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
