import type { ApiClient } from './api';
import { CliError } from './io';

/** A trigger as the other commands name it. */
export interface TriggerRef {
  id: string;
  key?: string;
  name: string;
}

interface TriggerBody {
  id: string;
  key?: string;
  name: string;
}

function refOf(body: TriggerBody): TriggerRef {
  return { id: body.id, ...(body.key ? { key: body.key } : {}), name: body.name };
}

/**
 * Finds a trigger by key first, then by id (a key is a slug and could look
 * like an id); neither is a CliError naming the value.
 */
export async function resolveTrigger(api: ApiClient, value: string): Promise<TriggerRef> {
  const byKey = await api.call<{ items: TriggerBody[] }>('GET', `/v1/triggers?key=${encodeURIComponent(value)}`);
  const found = byKey.status === 200 ? byKey.body.items[0] : undefined;
  if (found) return refOf(found);
  const byId = await api.call<TriggerBody>('GET', `/v1/triggers/${encodeURIComponent(value)}`);
  if (byId.status === 200) return refOf(byId.body);
  throw new CliError(`--trigger: no trigger has the key or id "${value}"`);
}
