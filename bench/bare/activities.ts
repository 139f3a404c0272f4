/** The baseline's activities: they do nothing, so what they cost is Temporal's round trip alone. */
export function createBareActivities() {
  return {
    async nothing(): Promise<void> {},
  };
}
