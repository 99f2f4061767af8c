import { z } from '../zod';

/** `<object>.<action>`, e.g. request.created or account.balance_changed. */
export const eventTypeSchema = z.string().max(100).regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'must look like <object>.<action>, e.g. request.created');
