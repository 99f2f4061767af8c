import { configSchema } from '../config';
import { connectStore } from '../store';
import { createLedger } from './index';

/**
 * `npm run ledger:verify`: checks every account in MONGODB_URI against its
 * entries and every transfer's entries against each other, prints each
 * broken account and transfer, and exits 1 if any (2 when the check itself
 * could not run). Hints that merely trail are advanced, not reported.
 */
async function main(): Promise<number> {
  const env = configSchema.pick({ MONGODB_URI: true }).parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== '')));
  const connection = await connectStore(env.MONGODB_URI);
  try {
    const ledger = createLedger({ connection });
    const report = await ledger.verify((broken) => {
      process.stdout.write(`BROKEN ${broken.unit} account of owner "${broken.ownerId}" (${broken.accountId}):\n${broken.problems.map((p) => `  - ${p}\n`).join('')}`);
    }, (broken) => {
      process.stdout.write(`BROKEN transfer "${broken.transferId}":\n${broken.problems.map((p) => `  - ${p}\n`).join('')}`);
    });
    process.stdout.write(`ledger:verify: ${report.accountsChecked} accounts, ${report.entriesChecked} entries, ${report.accountsRepaired} repaired (trailing hint or missing account document), ${report.keyClaimsRepaired} key claims put back, ${report.broken.length} broken; ${report.transfersChecked} transfers, ${report.brokenTransfers.length} broken\n`);
    return report.broken.length > 0 || report.brokenTransfers.length > 0 ? 1 : 0;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`ledger:verify: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
