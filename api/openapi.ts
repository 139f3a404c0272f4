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
      const shared: [string, string][] = [
        ['429', 'Too many requests from this client; Retry-After says when to try again'],
        ['503', 'Overloaded or a dependency is unavailable; retry later'],
      ];
      for (const [code, description] of shared) {
        if (code === '429' && UNLIMITED.has(path)) continue;
        const existing = responses[code];
        if (existing) {
          existing.headers = { ...existing.headers, ...retryAfter };
          // Load shedding answers problem+json even where a route's own 503 is something else.
          if (
            code === '503' &&
            existing.content &&
            !existing.content[PROBLEM] &&
            !errorMedia['application/scim+json']
          )
            existing.content = { ...existing.content, [PROBLEM]: { schema: problem } };
          continue;
        }
        responses[code] = { description, headers: retryAfter, content: errorMedia };
      }
    }
  }
  return document;
}
