import { isDomainError } from '../../engine/errors';

/** The code of the DomainError `promise` rejects with; fails the test when it resolves, rethrows any other error. */
export async function refusalCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
  throw new Error('the posting was not refused');
}
