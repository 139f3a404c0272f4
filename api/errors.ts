/** An error that the error handler turns into a problem+json response with this status and detail. */
export class HttpProblem extends Error {
  constructor(
    readonly statusCode: number,
    readonly title: string,
    detail: string,
    /** Problems one by one (a field each), besides the detail that sums them up. */
    readonly errors?: { path: string; message: string }[],
  ) {
    super(detail);
  }
}

export const notFound = (detail: string) => new HttpProblem(404, 'Not Found', detail);
export const forbidden = (detail: string) => new HttpProblem(403, 'Forbidden', detail);
export const conflict = (detail: string) => new HttpProblem(409, 'Conflict', detail);
export const unprocessable = (detail: string, errors?: { path: string; message: string }[]) =>
  new HttpProblem(422, 'Unprocessable Content', detail, errors);
export const unavailable = (detail: string) => new HttpProblem(503, 'Service Unavailable', detail);
