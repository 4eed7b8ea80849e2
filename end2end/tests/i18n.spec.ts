// Every screen in every language: the words come from locales/<lang>/main.ftl, nothing English
// is left where a translation exists, axe-core finds nothing serious at 720p, 1080p and 4K, and
// nothing overflows (long German words, Japanese glyphs). Also: LANGUAGE overrides the browser,
// the brand settings (name, colour, logo) show, the pages without JavaScript are localised too,
// and so are the demo provider's phone pages (locales/<lang>/phone.ftl).
import { test, expect, devices, type Browser, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, startIdp, startApp, ROOT, type Stack } from '../support/stack';
import { phoneSignIn, decodeQr } from '../support/phone';
import { watchPage } from '../support/watch';
import { LANGUAGES, type Language, messages, messageStart, expectNoEnglish, checkEverySize, focusProblems, seriousAxeFindings } from '../support/screens';

const ALICE = { user: 'alice', password: 'wonderland' };
const LOCALES: Record<Language, string> = { en: 'en-GB', de: 'de-DE', fr: 'fr-FR', es: 'es-ES', ja: 'ja-JP' };

async function openTv(browser: Browser, stack: Stack, lang: Language, javaScriptEnabled = true) {
  const context = await browser.newContext({ locale: LOCALES[lang], viewport: { width: 1920, height: 1080 }, javaScriptEnabled });
  const page = await context.newPage();
  const watch = watchPage(page);
  await page.goto(stack.appUrl + '/');
  if (javaScriptEnabled) await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('html')).toHaveAttribute('lang', lang);
  return { context, page, watch };
}

async function expectStatus(page: Page, lang: Language, state: string, id: string) {
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', state, { timeout: 20_000 });
  await expect(page.getByTestId('status')).toHaveText(messages(lang)[id]);
}

test.describe('each language, through every screen', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    // The idle warning shows from the first second signed in.
    stack = await startStack({ app: { IDLE_SIGN_OUT_SECS: '120', SIGN_OUT_WARNING_SECS: '119' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  for (const lang of LANGUAGES) {
    test(`${lang}: home, waiting, declined, signed in with the idle warning, signed out`, async ({ browser }) => {
      test.setTimeout(180_000);
      const t = messages(lang);
      const { context, page, watch } = await openTv(browser, stack, lang);
      await expect(page).toHaveTitle(t['page-title']);

      await expectStatus(page, lang, 'idle', 'status-idle');
      await expect(page.getByTestId('sign-in')).toHaveText(t['button-sign-in']);
      await expectNoEnglish(page, lang);
      await checkEverySize(page, `${lang} home`);

      await page.getByTestId('sign-in').click();
      await expectStatus(page, lang, 'waiting', 'status-waiting');
      await expect(page.getByTestId('phishing-warning')).toHaveText(t['phishing-warning']);
      await expect(page.getByTestId('countdown')).toContainText(messageStart(lang, 'code-expires').trim());
      await expect(page.getByTestId('cancel')).toHaveText(t['button-cancel']);
      await expectNoEnglish(page, lang);
      await checkEverySize(page, `${lang} waiting`);

      await phoneSignIn(browser, decodeQr(await page.getByTestId('qr').screenshot()), { ...ALICE, action: 'deny' });
      await expectStatus(page, lang, 'denied', 'status-denied');
      await expect(page.getByTestId('new-code')).toHaveText(t['button-new-code']);
      await expectNoEnglish(page, lang);
      await checkEverySize(page, `${lang} declined`);

      await page.getByTestId('new-code').click();
      await expectStatus(page, lang, 'waiting', 'status-waiting');
      await phoneSignIn(browser, decodeQr(await page.getByTestId('qr').screenshot()), ALICE);
      await expectStatus(page, lang, 'signed-in', 'status-signed-in');
      await expect(page.getByTestId('welcome')).toContainText('Alice Liddell');
      await expect(page.getByTestId('idle-warning')).toBeVisible();
      await expect(page.getByTestId('idle-warning')).toContainText(messageStart(lang, 'idle-warning').trim());
      await expect(page.getByTestId('sign-out')).toHaveText(t['button-sign-out']);
      await expect(page.locator('caption')).toHaveText(t['claims-caption']);
      await expectNoEnglish(page, lang);
      await checkEverySize(page, `${lang} signed in`);
      // Sign out while the warning shows: Home again at once, in the language.
      await page.getByTestId('sign-out').click();
      await expectStatus(page, lang, 'idle', 'status-idle');
      await expect(page.getByTestId('sign-in')).toBeFocused();
      expect(watch.consoleErrors).toEqual([]);
      await context.close();
    });
  }
});

test.describe('each language, when the code expires', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ idp: { IDP_DEVICE_CODE_TTL: '3' }, app: { EXPIRED_RETURN_HOME_SECS: '600' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('the expired screen', async ({ browser }) => {
    for (const lang of LANGUAGES) {
      const { context, page } = await openTv(browser, stack, lang);
      await page.getByTestId('sign-in').click();
      await expectStatus(page, lang, 'expired', 'status-expired');
      await expect(page.locator('.outcome')).toHaveText(messages(lang)['outcome-expired']);
      await expectNoEnglish(page, lang);
      await checkEverySize(page, `${lang} expired`);
      await context.close();
    }
  });
});

test.describe('each language, when new codes come too fast', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ app: { PAIRING_RATE_LIMIT: '1' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('the throttled screen, with its wait', async ({ browser }) => {
    for (const lang of LANGUAGES) {
      const { context, page } = await openTv(browser, stack, lang);
      await page.getByTestId('sign-in').click();
      // The limit is per address too: after the first language every first try is refused.
      for (let tries = 0; tries < 3; tries++) {
        const state = await page.getByTestId('status').getAttribute('data-state');
        if (state === 'throttled') break;
        if (state === 'waiting') await page.getByTestId('new-code').click();
        await page.waitForTimeout(500);
      }
      await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'throttled');
      await expect(page.getByTestId('status')).toContainText(messageStart(lang, 'status-throttled').trim());
      await expect(page.locator('.outcome')).toHaveText(messages(lang)['outcome-throttled']);
      await expectNoEnglish(page, lang);
      await checkEverySize(page, `${lang} throttled`);
      await context.close();
    }
  });
});

test.describe('each language, when the provider cannot be reached', () => {
  test('the unreachable screen', async ({ browser }) => {
    const idp = await startIdp({ IDP_INTERVAL: '1' });
    const app = await startApp({ ISSUER: idp.issuer, CLIENT_ID: 'tv-public' });
    try {
      await expect.poll(async () => (await fetch(app.appUrl + '/readyz')).status).toBe(200);
      idp.child.kill('SIGTERM');
      const stack = { appUrl: app.appUrl, logs: [], stop: async () => {} };
      for (const lang of LANGUAGES) {
        const { context, page } = await openTv(browser, stack, lang);
        await page.getByTestId('sign-in').click();
        await expectStatus(page, lang, 'unreachable', 'status-unreachable');
        await expectNoEnglish(page, lang);
        await checkEverySize(page, `${lang} unreachable`);
        await page.getByTestId('cancel').click();
        await context.close();
      }
    } finally {
      idp.child.kill('SIGKILL');
      app.child.kill('SIGTERM');
    }
  });
});

const LOGO = join(ROOT, 'end2end', 'fixtures', 'logo.svg');

/** Collects the page's Content-Security-Policy violations as they happen. */
async function watchPolicy(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { policyViolations: string[] }).policyViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return () => page.evaluate(() => (window as unknown as { policyViolations: string[] }).policyViolations ?? []);
}

/** Images on the page that were asked for and did not load. */
function brokenImages(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.images)
      .filter((img) => img.complete && img.naturalWidth === 0)
      .map((img) => img.currentSrc || img.src),
  );
}

test.describe('with LANGUAGE and the brand set', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ app: { LANGUAGE: 'de', ORG_NAME: 'Acme Hotels', ACCENT_COLOR: '#0a5cad', LOGO_FILE: LOGO } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('LANGUAGE overrides the browser, and the brand shows in the header, title, warning and colour', async ({ browser }, testInfo) => {
    const context = await browser.newContext({ locale: 'ja-JP' });
    const page = await context.newPage();
    await page.goto(stack.appUrl + '/');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.locator('html')).toHaveAttribute('lang', 'de');
    await expect(page.getByTestId('sign-in')).toHaveText(messages('de')['button-sign-in']);
    await expect(page).toHaveTitle('Anmelden · Acme Hotels');
    await expect(page.getByTestId('brand-name')).toHaveText('Acme Hotels');
    await expect(page.getByTestId('sign-in')).toHaveCSS('background-color', 'rgb(10, 92, 173)');
    await page.getByTestId('sign-in').click();
    await expect(page.getByTestId('phishing-warning')).toContainText('Acme Hotels-Konto');
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.screenshot({ path: testInfo.outputPath('branded-de-1080p.png') });
    await checkEverySize(page, 'branded waiting');
    // The focus check can fail: with the ring taken away, it says so for each button.
    await page.evaluate(() => {
      for (const button of Array.from(document.querySelectorAll<HTMLElement>('main button'))) button.style.outline = 'none';
    });
    const withoutRing = await focusProblems(page);
    expect(withoutRing.length).toBeGreaterThan(0);
    expect(withoutRing.every((line) => line.includes('shows no focus ring'))).toBe(true);
    await context.close();
  });

  test('the logo shows in the header, served by this server under the page policy', async ({ browser }) => {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const page = await context.newPage();
    const watch = watchPage(page);
    const violations = await watchPolicy(page);
    const response = await page.goto(stack.appUrl + '/');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    // The policy allows images from this server only.
    expect(response!.headers()['content-security-policy']).toMatch(/img-src 'self'[ ;]/);
    const logo = page.getByTestId('brand-logo');
    await expect(logo).toBeVisible();
    await expect.poll(() => logo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    const box = await logo.boundingBox();
    expect(box!.width).toBeGreaterThan(0);
    expect(box!.height).toBeGreaterThan(0);
    const src = await logo.evaluate((img: HTMLImageElement) => img.currentSrc);
    expect(new URL(src).origin).toBe(new URL(stack.appUrl).origin);
    const served = await page.request.get(src);
    expect(served.status()).toBe(200);
    expect(served.headers()['content-type']).toBe('image/svg+xml');
    expect(Buffer.from(await served.body()).equals(readFileSync(LOGO))).toBe(true);
    expect(await violations()).toEqual([]);
    expect(await brokenImages(page)).toEqual([]);
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.httpErrors).toEqual([]);
    await context.close();
  });
});

test.describe('without LOGO_FILE', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ app: { ORG_NAME: 'Acme Hotels' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('no logo and no broken image, and the logo address answers 404', async ({ browser }) => {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const page = await context.newPage();
    const watch = watchPage(page);
    const violations = await watchPolicy(page);
    await page.goto(stack.appUrl + '/');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByTestId('brand-name')).toHaveText('Acme Hotels');
    await expect(page.getByTestId('brand-logo')).toHaveCount(0);
    expect(await brokenImages(page)).toEqual([]);
    expect((await page.request.get(stack.appUrl + '/brand-logo')).status()).toBe(404);
    expect(await violations()).toEqual([]);
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.httpErrors).toEqual([]);
    await context.close();
  });
});

test.describe("the demo provider's phone pages", () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ demo: true, app: { DEMO_INTERVAL_SECS: '1' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('a French phone walks them in French (enter the code, sign in, allow, done), axe-clean', async ({ browser }) => {
    test.setTimeout(120_000);
    const tv = await browser.newContext({ locale: 'en-GB', viewport: { width: 1920, height: 1080 } });
    const screen = await tv.newPage();
    await screen.goto(stack.appUrl + '/');
    await expect(screen.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await screen.getByTestId('sign-in').click();
    await expect(screen.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    const link = decodeQr(await screen.getByTestId('qr').screenshot());

    const t = messages('fr', 'phone.ftl');
    const { defaultBrowserType: _ignored, ...pixel } = devices['Pixel 7'];
    const phone = await browser.newContext({ ...pixel, locale: 'fr-FR' });
    const page = await phone.newPage();
    const watch = watchPage(page);
    // The demo users are called "Alice Demo" and "Bob Demo": data, not the English badge.
    const checkPage = async (name: string) => {
      await expect(page.locator('html')).toHaveAttribute('lang', 'fr');
      await expect(page.getByTestId('demo-badge')).toHaveText(t['demo-badge']);
      await expectNoEnglish(page, 'fr', 'phone.ftl', ['demo-badge']);
      expect(await seriousAxeFindings(page), `axe on the ${name} page`).toEqual([]);
    };

    // Step 1: the code, pre-filled from the link.
    const response = await page.goto(link);
    expect(response!.headers()['vary']).toMatch(/accept-language/i);
    await expect(page.locator('h1')).toHaveText(t['code-heading']);
    await expect(page.getByTestId('demo-continue')).toHaveText(t['button-continue']);
    await expect(page.getByTestId('demo-code-input')).toHaveValue(/^[A-Z]{4}-[A-Z]{4}$/);
    await checkPage('code');

    // Step 2: sign in and allow; a wrong password first.
    await page.getByTestId('demo-continue').click();
    await expect(page.locator('h1')).toHaveText(t['consent-title']);
    await expect(page.getByTestId('demo-allow')).toHaveText(t['button-allow']);
    await expect(page.getByTestId('demo-deny')).toHaveText(t['button-deny']);
    await expect(page.getByTestId('demo-device')).toContainText(t['consent-warning']);
    await checkPage('consent');
    await page.getByTestId('demo-user').selectOption('alice');
    await page.getByTestId('demo-password').fill('wrong');
    await page.getByTestId('demo-allow').click();
    await expect(page.getByTestId('demo-error')).toHaveText(t['error-password-wrong-public']);
    await checkPage('consent with an error');
    await page.getByTestId('demo-user').selectOption('alice');
    await page.getByTestId('demo-password').fill('alice-demo');
    await page.getByTestId('demo-allow').click();

    // Done.
    await expect(page.getByTestId('demo-result')).toHaveText(t['result-signed-in']);
    await expect(page.locator('h1')).toHaveText(t['result-signed-in-title']);
    await checkPage('done');
    // The refused password is answered 400 on purpose; nothing else may go wrong.
    expect(watch.consoleErrors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    await phone.close();

    await expect(screen.getByTestId('status')).toHaveAttribute('data-state', 'signed-in', { timeout: 20_000 });
    await expect(screen.getByTestId('welcome')).toContainText('Alice Demo');
    await tv.close();
  });
});

test.describe('without JavaScript', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack();
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('the server-rendered pages are in the browser language too', async ({ browser }) => {
    for (const lang of ['fr', 'ja'] as const) {
      const t = messages(lang);
      const { context, page } = await openTv(browser, stack, lang, false);
      await expect(page.getByTestId('sign-in')).toHaveText(t['button-sign-in']);
      await expect(page.getByTestId('status')).toHaveText(t['status-idle']);
      await page.getByTestId('sign-in').click();
      await expectStatus(page, lang, 'waiting', 'status-waiting');
      await expect(page.getByTestId('phishing-warning')).toHaveText(t['phishing-warning']);
      await expectNoEnglish(page, lang);
      await page.getByTestId('cancel').click();
      await expectStatus(page, lang, 'idle', 'status-idle');
      await context.close();
    }
  });
});
