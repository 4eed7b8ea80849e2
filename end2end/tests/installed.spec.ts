// The installed Debian package, as scripts/package-test.sh starts it: /usr/bin/tvsignin with
// the settings in /etc/tvsignin (pointing at the local provider), from an unrelated working
// directory. The page must hydrate from the browser files in /usr/share/tvsignin, served
// precompressed under content-hashed names, and a TV must pair to signed-in.
// Skipped unless TVSIGNIN_INSTALLED_URL names that server.
import { test, expect } from '@playwright/test';
import { phoneSignIn, decodeQr } from '../support/phone';
import { watchPage } from '../support/watch';

const APP = process.env.TVSIGNIN_INSTALLED_URL ?? '';

test.skip(!APP, 'runs from scripts/package-test.sh, against the installed package');

test('the installed server hydrates the TV page and pairs a TV to signed-in', async ({ browser, request }) => {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await context.newPage();
  const watch = watchPage(page);
  await page.goto(APP + '/');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');

  // The bundle came from the package, under the names its hash.txt gives, precompressed.
  const wasm = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((entry) => entry.name).find((name) => name.endsWith('.wasm')));
  expect(wasm).toMatch(/\/pkg\/tvsignin\.[A-Za-z0-9_-]{10,}\.wasm$/);
  const served = await request.get(wasm!, { headers: { 'accept-encoding': 'br' } });
  expect(served.status()).toBe(200);
  expect(served.headers()['content-encoding']).toBe('br');
  expect(served.headers()['cache-control']).toContain('immutable');

  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
  const link = decodeQr(await page.getByTestId('qr').screenshot());
  await phoneSignIn(browser, link, { user: 'alice', password: 'wonderland' });
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'signed-in');
  await expect(page.getByTestId('welcome')).toContainText('Alice Liddell');

  expect(watch.consoleErrors).toEqual([]);
  expect(watch.httpErrors).toEqual([]);
  await context.close();
});
