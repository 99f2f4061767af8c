// Shared by bootstrap.cjs (plain CommonJS, runs on the system Node before any
// dependency exists) and cli.ts, so it stays dependency-free JavaScript.
'use strict';

/** How often the parent's pid is compared, in milliseconds. */
const PARENT_POLL_MS = 1000;

/**
 * npm does not pass SIGTERM on to the script it runs: killing `npm run dev`
 * leaves the script running with no parent. Its parent's pid then changes
 * (it is re-parented), which this notices within a second and reports once.
 */
function onParentExit(handler) {
  const parent = process.ppid;
  if (parent <= 1) return;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    handler();
  }, PARENT_POLL_MS);
  timer.unref();
}

module.exports = { onParentExit };
