import { chromium, type Browser } from 'playwright-core';

/**
 * Flags for Debian's Chromium on these machines: headless, no sandbox (tests
 * may run as root), and none of the background connections to Google's hosts
 * that a closed network refuses.
 */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium as `npm test` provisioned it (CHROMIUM_PATH); fails with the reason when it is missing. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH;
  if (!executablePath) throw new Error('CHROMIUM_PATH is not set: run the tests through npm test, which provisions Debian\'s Chromium');
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}
