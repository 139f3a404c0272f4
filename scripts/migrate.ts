import { openDatabase } from '../db/client.js';
import { seed } from '../db/seed.js';
import { loadConfig } from '../runtime/config.js';

/** `npm run db:migrate [-- --seed]`: applies the checked-in migrations (and the seed data). */
function run(): void {
  const config = loadConfig();
  const db = openDatabase(config.databaseFile);
  try {
    if (process.argv.includes('--seed')) seed(db);
    console.log(
      `database ${config.databaseFile} migrated${process.argv.includes('--seed') ? ' and seeded' : ''}`,
    );
  } finally {
    db.$client.close();
  }
}

try {
  run();
} catch (err) {
  console.error(err);
  process.exit(1);
}
