/** What a notification row carries that ends up in the message. */
export interface RenderableNotification {
  body: string;
  links: Record<string, string>;
}

export interface RenderedMessage {
  text: string;
  html: string;
}

// Workflows name links by what the reader does with them (see workflows/ and
// activities/approval.ts); the label is what the reader sees.
const LINK_LABELS: Record<string, string> = {
  approve: 'Approve',
  deny: 'Deny',
  launch: 'Launch',
  survey: 'Take the survey',
  request: 'View the request',
};

/** A label for a link key: a known one, or the key itself made readable (`open-ticket` -> "Open ticket"). */
export function linkLabel(key: string): string {
  const known = LINK_LABELS[key];
  if (known) return known;
  const words = key.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const KNOWN_ORDER = Object.keys(LINK_LABELS);

/**
 * Links in a fixed order: the known ones as listed above (Approve before Deny), then others by
 * key. Not the stored object's order: PostgreSQL's jsonb keeps no key order (it sorts keys by
 * length), so a mail would list Deny first there.
 */
function orderedLinks(links: Record<string, string>): [string, string][] {
  const rank = (key: string) => {
    const i = KNOWN_ORDER.indexOf(key);
    return i === -1 ? KNOWN_ORDER.length : i;
  };
  return Object.entries(links).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// Escaping keeps a URL from breaking out of the attribute, but a `javascript:`
// URL would still run when clicked; only web links become anchors.
const isWebUrl = (url: string) => /^https?:\/\//i.test(url);

/** The body, then one line per link, as plain text and as HTML with everything escaped. */
export function renderNotification(notification: RenderableNotification): RenderedMessage {
  const links = orderedLinks(notification.links).map(([key, url]) => ({ label: linkLabel(key), url }));

  const text = [
    notification.body,
    ...(links.length > 0 ? [''] : []),
    ...links.map((l) => `${l.label}: ${l.url}`),
  ]
    .join('\n')
    .concat('\n');

  const paragraphs = notification.body
    .split(/\n{2,}/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`);
  const linkLines = links.map(({ label, url }) =>
    isWebUrl(url)
      ? `<p><a href="${escapeHtml(url)}">${escapeHtml(label)}</a></p>`
      : `<p>${escapeHtml(label)}: ${escapeHtml(url)}</p>`,
  );
  const html = `<!doctype html>\n<html><body>\n${[...paragraphs, ...linkLines].join('\n')}\n</body></html>\n`;

  return { text, html };
}
