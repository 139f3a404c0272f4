import { parseArgs } from 'node:util';
import { launchBrowser } from './chromium.js';

// How long the portal's catalog takes to show on a first visit: a fresh browser profile (no
// cache), signed in through the dev sign-in, from navigation start until the first catalog
// item is on screen. Run it against a running `npm start` (dev mode):
//   npm run bench:portal -- --url http://127.0.0.1:3000 --runs 10

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    user: { type: 'string', default: 'alice' },
    runs: { type: 'string', default: '10' },
  },
});
const base = values.url.replace(/\/$/, '');
const runs = Math.max(1, Number(values.runs));

async function run(): Promise<void> {
  const browser = await launchBrowser();
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      const signIn = await context.request.post(`${base}/api/dev/session`, { data: { userId: values.user } });
      if (!signIn.ok()) throw new Error(`dev sign-in answered ${signIn.status()}: is the stack in dev mode?`);
      const page = await context.newPage();
      await page.goto(`${base}/`, { waitUntil: 'commit' });
      await page.locator('.card a').first().waitFor({ timeout: 30_000 });
      // Milliseconds since this navigation started, by the page's own clock.
      times.push(Math.round(await page.evaluate<number>('performance.now()')));
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  console.log(`first load of the catalog (${runs} fresh profiles): ${times.join(', ')} ms`);
  console.log(`median ${median} ms, worst ${sorted.at(-1)} ms`);
}

run().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
