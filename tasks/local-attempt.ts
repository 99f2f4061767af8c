import { Context } from '@temporalio/activity';

/**
 * Whether this call is an attempt of a local activity: the first attempt of
 * a kind with `localFirst` (email, webhook), which must not hold the worker's
 * few local-activity slots for a server that is failing or slow.
 */
export function inLocalActivity(): boolean {
  try {
    return Context.current().info.isLocal;
  } catch {
    return false; // called outside any activity
  }
}
