/**
 * Why the directory refused a change. Nothing was written when one is thrown; the
 * SCIM routes answer it with the matching SCIM error (409 uniqueness, 400 invalidValue, 404).
 */
export class DirectoryError extends Error {
  constructor(
    readonly reason: 'uniqueness' | 'invalidValue' | 'notFound',
    message: string,
  ) {
    super(message);
    this.name = 'DirectoryError';
  }
}

export const notFound = (message: string) => new DirectoryError('notFound', message);
export const invalidValue = (message: string) => new DirectoryError('invalidValue', message);
export const taken = (message: string) => new DirectoryError('uniqueness', message);
