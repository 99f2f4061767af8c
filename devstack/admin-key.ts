import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** 32 random bytes: far beyond guessing, and the key stays on this machine. */
const DEV_KEY_BYTES = 32;

/**
 * The dev admin key, generated on first use and kept in the data folder
 * (mode 0600) so it stays the same across restarts and scripts can read it.
 * It is only for the local stack; production sets ADMIN_API_KEY.
 */
export function devAdminKey(dataDir: string): { key: string; file: string } {
  const file = path.join(dataDir, 'admin-api-key');
  try {
    fs.writeFileSync(file, `${randomBytes(DEV_KEY_BYTES).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return { key: fs.readFileSync(file, 'utf8').trim(), file };
}
