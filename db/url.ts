/** Whether a DATABASE_URL names PostgreSQL (the only server database reqflow speaks). */
export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}
