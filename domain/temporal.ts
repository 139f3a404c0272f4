import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Default task queue; tests and parallel stacks override it through TEMPORAL_TASK_QUEUE. */
export const DEFAULT_TASK_QUEUE = 'reqflow';

// Search attributes operators filter on in the Temporal UI.
export const RequestTypeKey = defineSearchAttributeKey('RequestType', SearchAttributeType.KEYWORD);
export const RequestStatusKey = defineSearchAttributeKey('RequestStatus', SearchAttributeType.KEYWORD);
export const CatalogItemKey = defineSearchAttributeKey('CatalogItem', SearchAttributeType.KEYWORD);
export const RequesterKey = defineSearchAttributeKey('Requester', SearchAttributeType.KEYWORD);
/**
 * Who the request waits on right now (user ids, `device:<id>`), empty when nobody: an
 * operator finds every request awaiting one approver with `WaitingOn = "erin"`.
 */
export const WaitingOnKey = defineSearchAttributeKey('WaitingOn', SearchAttributeType.KEYWORD_LIST);

export const SEARCH_ATTRIBUTE_KEYS = [
  RequestTypeKey,
  RequestStatusKey,
  CatalogItemKey,
  RequesterKey,
  WaitingOnKey,
] as const;
