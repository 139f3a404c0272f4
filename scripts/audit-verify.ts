import { existsSync } from 'node:fs';
import { verifyAuditChain } from '../audit/verify.js';
import { closeDatabase, connectDatabase } from '../db/client.js';
import { loadConfig } from '../runtime/config.js';

/**
 * `npm run audit:verify`: walks the audit log's hash chain.
 * Exit 0: intact. Exit 1: broken (the entry is named). Exit 2: nothing could be checked.
 */
async function run(): Promise<void> {
  const config = loadConfig();
  // openDatabase would create an empty file, and an empty log verifies: that must not read as "OK".
  if (!config.databaseUrl && !existsSync(config.databaseFile)) {
    console.error(`no database at ${config.databaseFile} (set DATA_DIR, DATABASE_FILE or DATABASE_URL)`);
    process.exitCode = 2;
    return;
  }
  // No migrations: the verifier only reads, and must not change the database it is judging.
  const db = await connectDatabase(config, { migrate: false });
  try {
    const result = await verifyAuditChain(db);
    if (result.ok) {
      console.log(`audit log OK: ${result.entries} entries, last hash ${result.lastHash}`);
    } else {
      console.log(`audit log BROKEN at entry ${result.brokenAt}: ${result.reason}`);
      process.exitCode = 1;
    }
  } finally {
    await closeDatabase(db);
  }
}

run().catch((err: unknown) => {
  console.error('audit:verify could not check the log:', err);
  // 2, not 1: "could not check" (no table, unreadable file) is not evidence of tampering.
  process.exit(2);
});
