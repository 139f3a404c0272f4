import { Type } from 'typebox';

/** RFC 9457 problem details. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem' },
);

export const problemRef = Type.Ref('Problem');

/**
 * The responses every authenticated route can give besides its own: 401 for a missing or
 * refused token, 403 for a person who is not (or no longer) an active user, 503 while the
 * identity provider's keys cannot be read.
 */
export const authProblems = { 400: problemRef, 401: problemRef, 403: problemRef, 503: problemRef } as const;

/** Routes a device (or an enrollment token) calls: no identity provider is asked, so no 403 or 503 of its own. */
export const deviceAuthProblems = { 400: problemRef, 401: problemRef } as const;

/** Responses of pages for people (approve links, surveys): an HTML page for each status code. */
export function htmlPages<const C extends number>(...codes: C[]) {
  const page = { content: { 'text/html': { schema: Type.String() } } };
  return Object.fromEntries(codes.map((code) => [code, page])) as Record<C, typeof page>;
}

/** Deeper than any page a person reads; bounded so a huge offset is a 400, not a slow or failed query. */
export const MAX_OFFSET = 1_000_000;

/** `limit` and `offset` of a list route: every list is paged, with a cap on the page. */
export function pageQuery(defaultLimit: number, maxLimit: number) {
  return {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxLimit, default: defaultLimit })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 })),
  };
}
