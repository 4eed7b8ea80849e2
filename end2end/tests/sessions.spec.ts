// Session fixation in a real browser, in each TV tier: a session cookie planted on the TV (a
// copy of one the attacker got from the server) is worth nothing once the TV presses Sign in.
// The press's answer brings a new cookie and the screen follows the pairing under it at once
// (the WebAssembly app reopens its push stream as soon as the press has finished; the live
// fallback's and the script-less page's form posts load the next page with it), while the
// planted copy sees Home throughout, the sign-in included.
import { test, expect, chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { startStack, type Stack } from '../support/stack';
import { phoneSignIn } from '../support/phone';
import { watchPage } from '../support/watch';

const ALICE = { user: 'alice', password: 'wonderland' };
const COOKIE = 'tvsignin_session';
// WebAssembly switched off in the engine (see tiers.spec.ts).
const NO_WASM = ['--js-flags=--jitless'];

async function sessionCookie(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies()).find((c) => c.name === COOKIE)?.value;
}

/** The TV's status as whoever holds `page`'s cookie sees it on the status endpoint. */
async function statusSeenBy(page: Page): Promise<unknown> {
  return page.evaluate(async () => {
    const answer = await fetch('/api/status', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    return (await answer.json()).status;
  });
}

/** The attacker's page, with a session the server issued; its cookie is planted on `tv`. */
async function plant(attacker: Browser, tv: BrowserContext, stack: Stack): Promise<{ page: Page; planted: string }> {
  const context = await attacker.newContext();
  const page = await context.newPage();
  await page.goto(stack.appUrl + '/');
  const planted = (await sessionCookie(context))!;
  expect(planted).toBeTruthy();
  await tv.addCookies([{ name: COOKIE, value: planted, url: stack.appUrl, httpOnly: true, sameSite: 'Strict' }]);
  return { page, planted };
}

/**
 * The TV pairs from `page` (already showing Home under the planted cookie), pressing Sign in
 * with `signIn`; the attacker sees nothing.
 */
async function pairsUnseen(
  page: Page,
  attacker: Page,
  planted: string,
  phone: Browser,
  signIn = () => page.getByTestId('sign-in').click(),
) {
  await signIn();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
  const moved = await sessionCookie(page.context());
  expect(moved, 'Sign in moved the session to a new id').not.toBe(planted);
  expect(await statusSeenBy(attacker)).toEqual({ state: 'idle' });

  await phoneSignIn(phone, (await page.getByTestId('qr').getAttribute('data-target'))!, ALICE);
  // Without JavaScript the page refreshes itself every 3 s.
  await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell', { timeout: 20_000 });
  expect(await sessionCookie(page.context()), 'no move at approval').toBe(moved);
  expect(await statusSeenBy(attacker)).toEqual({ state: 'idle' });
  await expect(attacker.getByTestId('status')).toHaveAttribute('data-state', 'idle');
  expect(await sessionCookie(attacker.context())).toBe(planted);

  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('sign-in')).toBeVisible();
  expect(await sessionCookie(page.context()), 'Sign out moved the session').not.toBe(moved);
}

test.describe('a planted session cookie', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack();
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('WebAssembly app: the push stream reopens under the new cookie as soon as Sign in has finished', async ({ browser }) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const { page: attacker, planted } = await plant(browser, context, stack);
    const page = await context.newPage();
    const watch = watchPage(page);
    const streams: { at: number; cookie: string }[] = [];
    page.on('request', async (request) => {
      if (request.url().endsWith('/events')) {
        streams.push({ at: Date.now(), cookie: (await request.allHeaders())['cookie'] ?? '' });
      }
    });
    await page.goto(stack.appUrl + '/');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect.poll(() => streams.length).toBe(1);
    await pairsUnseen(page, attacker, planted, browser, async () => {
      const started = page.waitForResponse((r) => r.url().endsWith('/api/start'));
      await page.getByTestId('sign-in').click();
      await started;
      const answered = Date.now();
      // The next stream opens at once, with the cookie the answer set.
      await expect.poll(() => streams.length).toBe(2);
      expect(streams[1].at - answered, 'reopened within a second').toBeLessThan(1_000);
      expect(streams[1].cookie).not.toContain(planted);
    });
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.httpErrors).toEqual([]);
    await context.close();
    await attacker.context().close();
  });

  test('live fallback: the form posts carry the TV to its new session', async ({ browser }) => {
    const noWasm = await chromium.launch({
      ...(test.info().project.use.launchOptions ?? {}),
      args: [...(test.info().project.use.launchOptions?.args ?? []), ...NO_WASM],
    });
    try {
      const context = await noWasm.newContext({ viewport: { width: 1280, height: 720 } });
      const { page: attacker, planted } = await plant(browser, context, stack);
      const page = await context.newPage();
      const watch = watchPage(page);
      await page.goto(stack.appUrl + '/');
      await expect.poll(() => page.evaluate(() => typeof (window as any).tvsignin?.fallback)).toBe('object');
      await pairsUnseen(page, attacker, planted, browser);
      expect(watch.consoleErrors).toEqual([]);
      expect(watch.httpErrors).toEqual([]);
      await attacker.context().close();
    } finally {
      await noWasm.close();
    }
  });

  test('no JavaScript: the form posts carry the TV to its new session', async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 720 } });
    const { page: attacker, planted } = await plant(browser, context, stack);
    const page = await context.newPage();
    await page.goto(stack.appUrl + '/');
    await pairsUnseen(page, attacker, planted, browser);
    await context.close();
    await attacker.context().close();
  });
});
