import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

// Playwright drives the machine's own Chromium (Debian's `chromium` package): its browser
// download needs the internet, which CI machines here do not have.

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string {
  const found = CANDIDATES.find((p): p is string => Boolean(p && existsSync(p)));
  if (!found) throw new Error('No Chromium found: apt-get install -y chromium, or set CHROMIUM_PATH.');
  return found;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Containers run the tests as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}
