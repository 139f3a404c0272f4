/** Service-level targets of a catalog item (durations like '4h', '2d'). */
export interface SlaPolicy {
  /** From submission to fulfillment. */
  request: string;
  /** For each human step (approval, manual task). */
  humanStep?: string;
  /** How long before a breach the person the request waits on is warned. */
  warnBefore: string;
}
