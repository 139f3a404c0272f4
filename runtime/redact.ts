/**
 * Approve/deny links carry their token as a path segment, survey links as `?t=`: each is
 * a bearer credential for one decision or one answer. Logs keep the route and drop the
 * token, so anyone who reads a log can tell which page was used but cannot use it.
 */
export const REDACTED = '[redacted]';

export function redactUrl(url: string): string {
  return url
    .replace(/(\/approvals\/links\/)[^/?#]+/g, `$1${REDACTED}`)
    .replace(/([?&]t=)[^&#]*/g, `$1${REDACTED}`);
}
