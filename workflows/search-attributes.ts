import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes every trigger run carries, so runs can be listed
 * by trigger or event through the API and filtered in the Temporal UI.
 */
export const triggerIdKey = defineSearchAttributeKey('CreditflowTriggerId', SearchAttributeType.KEYWORD);
export const eventIdKey = defineSearchAttributeKey('CreditflowEventId', SearchAttributeType.KEYWORD);

export const searchAttributeKeys = [triggerIdKey, eventIdKey] as const;
