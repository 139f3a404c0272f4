import { parseArgs } from 'node:util';
import { closeDatabase, connectDatabase } from '../db/client.js';
import { loadConfig } from '../runtime/config.js';
import { CATALOG_SYNC_ACTOR, createCatalog, formatChanges, formatError } from '../service-catalog/index.js';

const USAGE = `usage: npm run catalog -- check|diff|apply [--dir <catalog folder>] [--as <operator id>]

  check   validates the files (schemas and references); exit 1 on any error
  diff    prints what apply would change: added, changed field by field, retired
  apply   checks, then applies in one transaction, with an audit entry per change
          (actor: --as, else ${CATALOG_SYNC_ACTOR})

The folder is --dir, else CATALOG_DIR, else catalog/; the database is DATABASE_FILE / DATA_DIR's.`;

/** `npm run catalog -- check|diff|apply`: the service catalog's files against the database. */
async function run(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: 'string' }, as: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0];
  if (values.help || positionals.length !== 1 || !['check', 'diff', 'apply'].includes(command!)) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig();
  const dir = values.dir ?? config.catalogDir;
  const db = await connectDatabase(config);
  try {
    const catalog = createCatalog({ db, dir });
    const result =
      command === 'check'
        ? { errors: await catalog.check(), changes: [] }
        : command === 'diff'
          ? await catalog.diff()
          : await catalog.apply(values.as ?? CATALOG_SYNC_ACTOR);
    if (result.errors.length > 0) {
      console.error(`${dir}: ${result.errors.length} error(s); nothing was applied.`);
      for (const e of result.errors) console.error(formatError(e));
      return 1;
    }
    if (command === 'check') console.log(`${dir}: the catalog is valid.`);
    else
      console.log(
        command === 'apply' ? `Applied:\n${formatChanges(result.changes)}` : formatChanges(result.changes),
      );
    return 0;
  } finally {
    await closeDatabase(db);
  }
}

run()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
