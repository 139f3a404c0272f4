import { defineConfig } from 'drizzle-kit';

// PostgreSQL's migrations, from its twin of the SQLite schema; `npm run db:generate` runs both configs.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/pg-schema.ts',
  out: './db/migrations-pg',
});
