/**
 * One line of dev stack narration on stderr, so stdout stays free for the
 * children's own (JSON) logs and the final banner.
 */
export function say(message: string): void {
  process.stderr.write(`devstack | ${message}\n`);
}
