// Out of the box: with no provider configured, the TV pairs with a phone through the built-in
// demo provider, exactly as with a real one. PUBLIC_URL is loopback, so the phone stays on it.
import { test, expect, type Browser, type Page } from '@playwright/test';
import { startStack, type Stack } from '../support/stack';
import { demoPhoneSignIn, decodeQr } from '../support/phone';
import { watchPage } from '../support/watch';

const ALICE = { user: 'alice', password: 'alice-demo' };

async function openTv(browser: Browser, stack: Stack) {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await context.newPage();
  const watch = watchPage(page);
  await page.goto(stack.appUrl + '/');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('demo-badge')).toHaveText('Demo');
  return { context, page, watch };
}

async function startPairing(page: Page) {
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
  const code = (await page.getByTestId('user-code').textContent())!.trim();
  // RFC 8628 §6.1: eight consonants, shown as XXXX-XXXX.
  expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  return code;
}

test.describe('demo provider', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ demo: true, app: { DEMO_INTERVAL_SECS: '1' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('happy path through the QR code', async ({ browser }) => {
    const { context, page, watch } = await openTv(browser, stack);
    const code = await startPairing(page);
    const link = decodeQr(await page.getByTestId('qr').screenshot());
    expect(link).toBe(`${stack.appUrl}/demo-idp/device?user_code=${code}`);
    await expect(page.getByTestId('verification-uri')).toHaveText(`${stack.appUrl}/demo-idp/device`);
    await demoPhoneSignIn(browser, link, ALICE);
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Demo');
    // The default SHOW_CLAIMS: name, username and e-mail, not the team claim.
    await expect(page.getByTestId('claims')).toContainText('alice@example.com');
    await expect(page.getByTestId('claims')).not.toContainText('ext.team');
    await page.getByTestId('sign-out').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle');
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.httpErrors).toEqual([]);
    await context.close();
  });

  test('the code typed by hand, in lower case without the dash', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    const code = await startPairing(page);
    const uri = (await page.getByTestId('verification-uri').textContent())!.trim();
    await demoPhoneSignIn(browser, uri, { user: 'bob', password: 'bob-demo', code: code.replace('-', '').toLowerCase() });
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Bob Demo');
    await context.close();
  });

  test('declined on the phone', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await startPairing(page);
    const link = decodeQr(await page.getByTestId('qr').screenshot());
    await demoPhoneSignIn(browser, link, { ...ALICE, action: 'deny' });
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'denied');
    await expect(page.getByTestId('new-code')).toBeFocused();
    await context.close();
  });
});

test.describe('demo provider with a short code lifetime', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ demo: true, app: { DEMO_INTERVAL_SECS: '1', DEMO_CODE_TTL_SECS: '4' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('the code expires, then New code gives a fresh one', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    const first = await startPairing(page);
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'expired', { timeout: 15_000 });
    await page.getByTestId('new-code').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    await expect(page.getByTestId('user-code')).not.toHaveText(first);
    await context.close();
  });
});
