// The served OpenAPI document says what the API really answers. Route schemas describe
// their own statuses; what every route shares is added here: errors are
// application/problem+json (not the application/json that @fastify/swagger assumes), and any
// route may answer 429 (rate limits) or 503 (load shedding).

interface Media {
  schema?: unknown;
}
interface Response {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, Media>;
}
interface Operation {
  parameters?: unknown[];
  requestBody?: { required?: boolean; content?: Record<string, Media> };
  responses?: Record<string, Response>;
}
type Document = {
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, { title?: string }> };
} & Record<string, unknown>;

const PROBLEM = 'application/problem+json';
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
/** Paths without rate limits (probes); they can still shed load. */
const UNLIMITED = new Set(['/health', '/ready']);

const retryAfter = {
  'Retry-After': {
    description: 'Seconds to wait before trying again',
    schema: { type: 'integer', minimum: 1 },
  },
};

function problemSchema(doc: Document): unknown {
  const entry = Object.entries(doc.components?.schemas ?? {}).find(([, s]) => s.title === 'Problem');
  return entry ? { $ref: `#/components/schemas/${entry[0]}` } : { type: 'object' };
}

/**
 * TypeBox's Undefined, used to accept a POST without a body, renders as `type: "undefined"`,
 * which OpenAPI does not know: say instead that the body is optional.
 */
function optionalBodies(op: Operation) {
  for (const media of Object.values(op.requestBody?.content ?? {})) {
    const schema = media.schema as { anyOf?: { type?: string }[] } | undefined;
    if (!schema?.anyOf?.some((s) => s.type === 'undefined')) continue;
    schema.anyOf = schema.anyOf.filter((s) => s.type !== 'undefined');
    op.requestBody!.required = false;
  }
}

export function completeResponses<T extends object>(document: T): T {
  const doc = document as Document;
  const problem = problemSchema(doc);
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      optionalBodies(op);
      const responses = (op.responses ??= {});
      // A route with its own error format (SCIM) answers 429 and 503 in that format too.
      let errorMedia: Record<string, Media> = { [PROBLEM]: { schema: problem } };
      for (const [code, response] of Object.entries(responses)) {
        if (Number(code) < 400 || !response.content) continue;
        const json = response.content['application/json'];
        if (json) {
          response.content = { [PROBLEM]: json };
        } else if (response.content['application/scim+json']) {
          errorMedia = response.content;
        }
      }
      const html = Object.values(responses).some((r) => r.content?.['text/html']);
      const shared: [string, string, boolean][] = [
        // Any operation with parameters or a body can fail validation; a body can be too large.
        ['400', 'The request does not match the schema', Boolean(op.parameters?.length || op.requestBody)],
        ['413', 'The body is larger than the API accepts', Boolean(op.requestBody)],
        [
          '429',
          'Too many requests from this client; Retry-After says when to try again',
          !UNLIMITED.has(path),
        ],
        ['503', 'Overloaded or a dependency is unavailable; retry later', true],
        // Node refuses an overlong request line or headers before any route runs.
        ['431', 'The request line or headers are larger than the API accepts', true],
      ];
      for (const [code, description, applies] of shared) {
        if (!applies) continue;
        const existing = responses[code];
        if (!existing) {
          responses[code] = {
            description,
            ...(code === '429' || code === '503' ? { headers: retryAfter } : {}),
            // Answered before the route (and its own error format) is known.
            content: code === '431' ? { [PROBLEM]: { schema: problem } } : errorMedia,
          };
        } else if (code === '429' || code === '503') {
          existing.headers = { ...existing.headers, ...retryAfter };
        }
      }
      // Pages answer their own refusals as HTML, some (surveys) a limit's 429 too; a malformed
      // URL is refused before the page runs, as problem+json, and load shedding is problem+json.
      if (html) {
        const page = Object.values(responses).find((r) => r.content?.['text/html'])!.content!['text/html']!;
        for (const code of ['400', '429', '503']) {
          const r = responses[code];
          if (!r?.content) continue;
          r.content = { ...r.content, [PROBLEM]: { schema: problem } };
          if (code !== '503') r.content['text/html'] = page;
        }
      }
    }
  }
  return document;
}
