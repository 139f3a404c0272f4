import { Client, Connection } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import type { ParsedMail } from 'mailparser';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSmtpServer, type TestSmtp } from './helpers/smtp.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { createNotifyActivities, type NotificationInput } from '../activities/notify.js';
import { buildApp, type App } from '../api/app.js';
import { closeDatabase, openDatabase, openPostgresDatabase, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { createDirectory } from '../directory/index.js';
import { createOutboxDispatcher, type OutboxDispatcherOptions } from '../notifications/outbox.js';
import { renderNotification } from '../notifications/render.js';
import { smtpTransport, type OutgoingMessage, type Transport } from '../notifications/transports.js';
import { loadConfig } from '../runtime/config.js';
import { newPostgresDatabase, onPostgres, openTestDatabase } from './helpers/test-database.js';

// The outbox against a real SMTP server on loopback: nodemailer speaks SMTP to
// smtp-server, mailparser reads what arrived. No Temporal is needed; the
// notify activity runs in a MockActivityEnvironment to write the outbox.

const FROM = 'reqflow <reqflow@localhost>';
const PUBLIC_URL = 'http://portal.test';

let smtp: TestSmtp;
let smtpUrl: string;
let received: ParsedMail[] = [];

beforeAll(async () => {
  smtp = await startSmtpServer();
  smtpUrl = smtp.url;
  received = smtp.received;
});

afterAll(async () => {
  await smtp?.close();
});

beforeEach(() => {
  received.length = 0;
});

// The activity's "notification queued" lines would drown the test output.
const ignore = () => undefined;
const quiet: Logger = {
  log: ignore,
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
};
const activityEnv = new MockActivityEnvironment(undefined, { logger: quiet });
function notifier(db: DB) {
  const { notify } = createNotifyActivities({
    db,
    packagesDirs: [],
    publicUrl: PUBLIC_URL,
    linkSecret: 'test-link-secret',
    linkTtlMs: 60_000,
  });
  return (input: NotificationInput) => activityEnv.run(notify, input);
}

async function freshDb(): Promise<DB> {
  const db = await openTestDatabase();
  await seed(db);
  return db;
}

const rowByKey = async (db: DB, key: string) => {
  const [row] = await db.select().from(t.notifications).where(eq(t.notifications.key, key));
  return row!;
};

/** A port nothing listens on: a real "connection refused" from the SMTP client. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function dispatcher(options: Partial<OutboxDispatcherOptions> & { db: DB }) {
  const lines: string[] = [];
  const outbox = createOutboxDispatcher({
    transport: smtpTransport(smtpUrl, FROM),
    log: (line) => lines.push(line),
    ...options,
  });
  return { outbox, lines };
}

describe('rendering', () => {
  it('puts each link on its own labelled line and escapes everything in the HTML', () => {
    const { text, html } = renderNotification({
      body: 'Tom & Jerry <script>alert(1)</script>',
      links: {
        approve: 'https://reqflow.test/approvals/links/a?x=1&y="2"',
        deny: 'javascript:alert(1)',
        'open-ticket': 'https://itsm.test/t/1',
      },
    });
    expect(text).toBe(
      [
        'Tom & Jerry <script>alert(1)</script>',
        '',
        'Approve: https://reqflow.test/approvals/links/a?x=1&y="2"',
        'Deny: javascript:alert(1)',
        'Open ticket: https://itsm.test/t/1',
        '',
      ].join('\n'),
    );
    expect(html).toContain('<p>Tom &amp; Jerry &lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(html).toContain(
      '<a href="https://reqflow.test/approvals/links/a?x=1&amp;y=&quot;2&quot;">Approve</a>',
    );
    // Not a web link: shown, never clickable.
    expect(html).toContain('<p>Deny: javascript:alert(1)</p>');
    expect(html).not.toContain('<script>');
  });

  it('lists links in a fixed order, whatever order the stored object has (jsonb keeps none)', () => {
    const { text } = renderNotification({
      body: 'Decide',
      links: {
        zzz: 'https://x.test/z',
        request: 'https://x.test/r',
        deny: 'https://x.test/d',
        approve: 'https://x.test/a',
      },
    });
    expect(text.trim().split('\n').slice(2)).toEqual([
      'Approve: https://x.test/a',
      'Deny: https://x.test/d',
      'View the request: https://x.test/r',
      'Zzz: https://x.test/z',
    ]);
  });
});

describe('outbox delivery over SMTP', () => {
  it('mails a queued notification to the recipient with its links, once', async () => {
    const db = await freshDb();
    await notifier(db)({
      key: 'REQ-OUTBOX1:fulfilled',
      requestId: 'REQ-OUTBOX1',
      recipient: 'alice',
      subject: 'Microsoft Visio installed successfully',
      body: 'Microsoft Visio is installed on LAPTOP-ALICE.',
      links: { launch: 'https://apps.example.com/launch/visio', survey: '/surveys/REQ-OUTBOX1' },
    });
    const { outbox, lines } = dispatcher({ db });

    expect(await outbox.dispatchOnce()).toBe(1);

    expect(received).toHaveLength(1);
    const mail = received[0]!;
    const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
    expect(to?.value).toEqual([{ address: 'alice@example.com', name: 'Alice Archer' }]);
    expect(mail.from?.value[0]?.address).toBe('reqflow@localhost');
    expect(mail.subject).toBe('Microsoft Visio installed successfully');
    expect(mail.text).toContain('Microsoft Visio is installed on LAPTOP-ALICE.');
    expect(mail.text).toContain('Launch: https://apps.example.com/launch/visio');
    expect(mail.text).toContain(`Take the survey: ${PUBLIC_URL}/surveys/REQ-OUTBOX1`);
    expect(mail.html).toContain('<a href="https://apps.example.com/launch/visio">Launch</a>');
    expect(mail.html).toContain(`<a href="${PUBLIC_URL}/surveys/REQ-OUTBOX1">Take the survey</a>`);

    const row = await rowByKey(db, 'REQ-OUTBOX1:fulfilled');
    expect(row).toMatchObject({ status: 'sent', attempts: 1, lastError: null });
    expect(row.sentAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(lines).toEqual([
      `outbox: sent #${row.id} (REQ-OUTBOX1) to alice <alice@example.com> via smtp: "Microsoft Visio installed successfully"`,
    ]);

    expect(await outbox.dispatchOnce()).toBe(0);
    expect(received).toHaveLength(1);
  });

  it('never mails someone the directory deactivated: the row fails with the reason', async () => {
    const db = await freshDb();
    const notify = notifier(db);
    await notify({ key: 'k:to-bob', recipient: 'bob', subject: 'Approval needed', body: 'Please decide.' });
    await notify({ key: 'k:to-carol', recipient: 'carol', subject: 'Your request', body: 'Approved.' });
    const directory = createDirectory({ db });
    const bob = (await directory.findUser('bob'))!;
    await directory.replaceUser(
      'bob',
      {
        userName: bob.userName,
        displayName: bob.name,
        email: bob.email,
        roleHints: [bob.roleId],
        managerId: bob.managerId,
        active: false,
      },
      'scim',
    );
    const { outbox, lines } = dispatcher({ db });

    expect(await outbox.dispatchOnce()).toBe(1);
    expect(received.map((m) => m.subject)).toEqual(['Your request']);
    expect(await rowByKey(db, 'k:to-bob')).toMatchObject({
      status: 'failed',
      attempts: 0,
      lastError: 'not sent: bob is inactive in the directory',
    });
    expect(lines).toContain(
      `outbox: #${(await rowByKey(db, 'k:to-bob')).id} to bob not sent: the recipient is inactive`,
    );
    // Nothing is retried for them later.
    expect(await outbox.dispatchOnce()).toBe(0);
    expect(received).toHaveLength(1);
  });

  it('retries a failing transport with a growing delay, then marks the row failed', async () => {
    const db = await freshDb();
    await notifier(db)({
      key: 'k:fail',
      recipient: 'bob',
      subject: 'Approval needed',
      body: 'Please decide.',
    });
    let nowMs = Date.parse('2030-01-01T00:00:00.000Z');
    const sent: OutgoingMessage[] = [];
    const broken: Transport = {
      name: 'broken',
      async send(message) {
        sent.push(message);
        throw new Error('mail server down');
      },
    };
    const { outbox } = dispatcher({
      db,
      transport: broken,
      maxAttempts: 3,
      retryDelayMs: 60_000,
      now: () => new Date(nowMs),
    });

    expect(await outbox.dispatchOnce()).toBe(0);
    expect(await rowByKey(db, 'k:fail')).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastError: 'attempt 1: mail server down',
      nextAttemptAt: '2030-01-01T00:01:00.000Z',
    });
    expect(sent[0]).toMatchObject({ to: 'bob@example.com', toName: 'Bob Baker', subject: 'Approval needed' });

    // Not due yet: the first retry waits one delay.
    nowMs += 59_000;
    await outbox.dispatchOnce();
    expect(sent).toHaveLength(1);

    nowMs += 1_000;
    await outbox.dispatchOnce();
    expect(sent).toHaveLength(2);
    expect(await rowByKey(db, 'k:fail')).toMatchObject({ status: 'pending', attempts: 2 });

    // The second retry waits twice as long.
    nowMs += 60_000;
    await outbox.dispatchOnce();
    expect(sent).toHaveLength(2);
    nowMs += 60_000;
    await outbox.dispatchOnce();
    expect(sent).toHaveLength(3);
    expect(await rowByKey(db, 'k:fail')).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastError: 'attempt 3: mail server down',
      nextAttemptAt: null,
      sentAt: null,
    });

    nowMs += 3_600_000;
    expect(await outbox.dispatchOnce()).toBe(0);
    expect(sent).toHaveLength(3);
  });

  it('delivers on a later attempt after a refused connection and keeps the earlier error', async () => {
    const db = await freshDb();
    await notifier(db)({
      key: 'k:retry',
      recipient: 'carol',
      subject: 'Monitor ordered',
      body: 'On its way.',
    });
    const down = dispatcher({ db, transport: smtpTransport(`smtp://127.0.0.1:${await closedPort()}`, FROM) });
    expect(await down.outbox.dispatchOnce()).toBe(0);
    expect(down.lines[0]).toMatch(/attempt 1\/5 via smtp failed: .*ECONNREFUSED.*; retry in 60s$/);

    // The backoff stored with the failure (60 s) has passed.
    const up = dispatcher({ db, now: () => new Date(Date.now() + 61_000) });
    expect(await up.outbox.dispatchOnce()).toBe(1);
    expect(received.map((m) => m.subject)).toEqual(['Monitor ordered']);
    const row = await rowByKey(db, 'k:retry');
    expect(row).toMatchObject({ status: 'sent', attempts: 2 });
    expect(row.lastError).toMatch(/attempt 1: .*ECONNREFUSED/);
  });

  it('never claims a row whose send is still in flight', async () => {
    const db = await freshDb();
    await notifier(db)({ key: 'k:slow', recipient: 'alice', subject: 'Slow', body: 'Slow server.' });
    let release!: () => void;
    const slow: Transport = {
      name: 'slow',
      send: () => new Promise<void>((resolve) => (release = resolve)),
    };
    const calls: string[] = [];
    const other: Transport = { name: 'other', send: async (m) => void calls.push(m.subject) };
    const a = dispatcher({ db, transport: slow });
    // The second dispatcher runs 30 s later, still within the first one's lease (60 s).
    const b = dispatcher({ db, transport: other, now: () => new Date(Date.now() + 30_000) });

    const first = a.outbox.dispatchOnce();
    expect(await b.outbox.dispatchOnce()).toBe(0);
    release();
    expect(await first).toBe(1);
    expect(calls).toEqual([]);
    expect(await rowByKey(db, 'k:slow')).toMatchObject({ status: 'sent', attempts: 1 });
  });

  // Two processes' handles on one database: two connections to one SQLite file, or two
  // connection pools on one PostgreSQL database.
  async function twoHandles(file: string): Promise<[DB, DB]> {
    if (!onPostgres) return [openDatabase(file), openDatabase(file)];
    const url = await newPostgresDatabase();
    return [
      await openPostgresDatabase(url, { migrate: false }),
      await openPostgresDatabase(url, { migrate: false }),
    ];
  }

  describe('two worker processes on one database', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'reqflow-outbox-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('send each row once', async () => {
      const file = join(dir, 'reqflow.db');
      const [db1, db2] = await twoHandles(file);
      try {
        await seed(db1);
        const notify = notifier(db1);
        const total = 45; // more than two batches of 20
        for (let i = 0; i < total; i++) {
          await notify({
            key: `k:${i}`,
            recipient: i % 2 ? 'alice' : 'bob',
            subject: `Message ${i}`,
            body: `#${i}`,
          });
        }
        const a = dispatcher({ db: db1 });
        const b = dispatcher({ db: db2 });

        const perDispatcher = [0, 0];
        for (;;) {
          const [sentA, sentB] = await Promise.all([a.outbox.dispatchOnce(), b.outbox.dispatchOnce()]);
          perDispatcher[0]! += sentA;
          perDispatcher[1]! += sentB;
          if (sentA + sentB === 0) break;
        }

        const subjects = received.map((m) => m.subject).sort();
        expect(subjects).toHaveLength(total);
        expect(new Set(subjects).size).toBe(total);
        expect(perDispatcher[0]! + perDispatcher[1]!).toBe(total);
        // Both took part: the claim, not luck, kept them apart.
        expect(perDispatcher[0]).toBeGreaterThan(0);
        expect(perDispatcher[1]).toBeGreaterThan(0);
        const rows = await db2.select().from(t.notifications);
        expect(rows.every((r) => r.status === 'sent' && r.attempts === 1)).toBe(true);
      } finally {
        await closeDatabase(db1);
        await closeDatabase(db2);
      }
    });
  });

  it('start() delivers in the background and stop() waits for the running pass', async () => {
    const db = await freshDb();
    const { outbox } = dispatcher({ db, pollMs: 10 });
    outbox.start();
    try {
      await notifier(db)({ key: 'k:bg', recipient: 'dave', subject: 'Task assigned', body: 'Deliver it.' });
      await vi.waitFor(() => expect(received.map((m) => m.subject)).toEqual(['Task assigned']), {
        timeout: 20_000,
      });
    } finally {
      await outbox.stop();
    }
    await notifier(db)({ key: 'k:after-stop', recipient: 'dave', subject: 'Too late', body: '.' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await rowByKey(db, 'k:after-stop')).status).toBe('pending');
  });
});

describe('GET /api/dev/outbox', () => {
  let app: App;
  let temporal: Client;
  let dir: string;
  const tokens: Record<string, string> = {};
  const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });
  type Outbox = { items: { recipient: string; subject: string; requestId: string | null }[] };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reqflow-outbox-api-'));
    const config = loadConfig({
      // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
      MAX_EVENT_LOOP_DELAY_MS: '0',
      DATA_DIR: dir,
      REQFLOW_DEV_MODE: '1',
      REQFLOW_SECRET: 'test-secret-test-secret-test-secret!!',
      TEMPORAL_ADDRESS: inject('temporalAddress'),
    });
    const db = await freshDb();
    await db.insert(t.notifications).values([
      {
        key: 'a1',
        recipientId: 'alice',
        requestId: 'REQ-AAAA1',
        subject: 'Alice one',
        body: 'b',
        createdAt: '2030-01-01T00:00:01.000Z',
      },
      {
        key: 'b1',
        recipientId: 'bob',
        requestId: 'REQ-AAAA1',
        subject: 'Bob one',
        body: 'b',
        createdAt: '2030-01-01T00:00:02.000Z',
      },
      {
        key: 'a2',
        recipientId: 'alice',
        requestId: 'REQ-BBBB2',
        subject: 'Alice two',
        body: 'b',
        createdAt: '2030-01-01T00:00:03.000Z',
      },
    ]);
    // The outbox route never reaches Temporal; a lazy connection is never opened.
    temporal = new Client({ connection: Connection.lazy({ address: config.temporal.address }) });
    app = await buildApp({ db, temporal, config, secret: config.secret! });
    for (const user of ['alice', 'olga']) {
      const res = await app.inject({ method: 'POST', url: '/api/dev/login', payload: { userId: user } });
      tokens[user] = res.json<{ token: string }>().token;
    }
  });

  afterAll(async () => {
    await app?.close();
    await temporal?.connection.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a user their own notifications, newest first', async () => {
    const res = await app.inject({ url: '/api/dev/outbox', headers: as('alice') });
    expect(res.statusCode).toBe(200);
    expect(res.json<Outbox>().items.map((i) => i.subject)).toEqual(['Alice two', 'Alice one']);
    expect(res.json<Outbox>().items[0]).toMatchObject({
      key: 'a2',
      recipient: 'alice',
      requestId: 'REQ-BBBB2',
      links: {},
      status: 'pending',
      attempts: 0,
      sentAt: null,
    });

    const filtered = await app.inject({
      url: '/api/dev/outbox?recipient=alice&requestId=REQ-AAAA1&limit=5',
      headers: as('alice'),
    });
    expect(filtered.json<Outbox>().items.map((i) => i.subject)).toEqual(['Alice one']);
  });

  it("refuses someone else's notifications with 403", async () => {
    const res = await app.inject({ url: '/api/dev/outbox?recipient=bob', headers: as('alice') });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('shows an operator everything, or one recipient', async () => {
    const all = await app.inject({ url: '/api/dev/outbox', headers: as('olga') });
    expect(all.json<Outbox>().items.map((i) => i.subject)).toEqual(['Alice two', 'Bob one', 'Alice one']);
    const bobs = await app.inject({ url: '/api/dev/outbox?recipient=bob', headers: as('olga') });
    expect(bobs.json<Outbox>().items.map((i) => i.recipient)).toEqual(['bob']);
  });

  it('needs a token and a valid query, and is in the OpenAPI document', async () => {
    expect((await app.inject({ url: '/api/dev/outbox' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/dev/outbox?limit=0', headers: as('olga') })).statusCode).toBe(400);
    const doc = (await app.inject('/docs/json')).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths)).toContain('/api/dev/outbox');
  });
});
