import type { PlannedPurchase } from './chaos-plan';

/** One post of one event, retried until answered: what the client saw. */
export interface Post {
  readonly eventId: string;
  /** When the first attempt went out (ms since the epoch). */
  readonly sentAt: number;
  /** When the final answer came (or the client gave up). */
  readonly answeredAt: number;
  /** The final status; undefined when every attempt failed until the deadline. */
  readonly status: number | undefined;
  readonly attempts: number;
  readonly lastProblem?: string;
}

/** What the client did for one planned purchase, and what it was answered. */
export interface PurchaseRecord {
  readonly plan: PlannedPurchase;
  readonly workflowId: string;
  readonly purchasePosts: Post[];
  readonly cancelPosts: Post[];
  /** cancel_late: when the run was seen completed, before the cancellation was sent. */
  runSeenCompletedAt?: number;
  /** cancel_late: the run did not complete in time, so no cancellation was sent. */
  lateCancelSkipped?: boolean;
}

/** Accepted: 202 for a new event, 200 for one the API already had. */
export function isAccepted(post: Post): boolean {
  return post.status === 202 || post.status === 200;
}
