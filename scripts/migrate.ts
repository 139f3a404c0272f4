import { closeDatabase, connectDatabase } from '../db/client.js';
import { seed } from '../db/seed.js';
import { loadConfig } from '../runtime/config.js';

/** `npm run db:migrate [-- --seed]`: applies the checked-in migrations (and the seed data). */
async function run(): Promise<void> {
  const config = loadConfig();
  const db = await connectDatabase(config);
  try {
    if (process.argv.includes('--seed')) await seed(db, config.catalogDir);
    console.log(
      `database ${config.databaseFile} migrated${process.argv.includes('--seed') ? ' and seeded' : ''}`,
    );
  } finally {
    await closeDatabase(db);
  }
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
