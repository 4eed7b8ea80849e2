// The TV page's tiers in today's Chromium. The WebAssembly app never reloads the page between
// Sign in and signed-in and leaves no meta refresh for axe-core to find; where the
// WebAssembly cannot run (switched off in the engine, or its file blocked) the live fallback
// script pairs the TV by itself, ticks the countdown, moves the focus with the arrow keys,
// and shows the idle warning. Old engines: old-engines.spec.ts.
import { test, expect, chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { useStack, type Stack } from '../support/stack';
import { phoneSignIn } from '../support/phone';
import { watchPage } from '../support/watch';

const ALICE = { user: 'alice', password: 'wonderland' };
// WebAssembly switched off in the engine. V8's --noexpose_wasm no longer hides it in today's
// Chromium; jitless V8 has no WebAssembly at all.
const NO_WASM = ['--js-flags=--jitless'];

/** Main-frame navigations of `page`, in order (the first load included). */
function countNavigations(page: Page): string[] {
  const seen: string[] = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) seen.push(frame.url());
  });
  return seen;
}

async function qrTarget(page: Page): Promise<string> {
  return (await page.getByTestId('qr').getAttribute('data-target'))!;
}

/** A Chromium like the configured one, plus `extraArgs`. */
async function launchWith(extraArgs: string[]): Promise<Browser> {
  const base = test.info().project.use.launchOptions ?? {};
  return chromium.launch({ ...base, args: [...(base.args ?? []), ...extraArgs] });
}

/** The fallback's run through a whole pairing, in a TV context where WebAssembly does not run. */
async function fallbackPairs(context: BrowserContext, phoneBrowser: Browser, stack: Stack, reason: RegExp) {
  const page = await context.newPage();
  const watch = watchPage(page);
  const navigations = countNavigations(page);
  await page.goto(stack.appUrl + '/');
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle');
  await expect.poll(() => page.evaluate(() => (window as any).tvsignin?.fallbackReason ?? null)).toMatch(reason);
  await expect.poll(() => page.evaluate(() => typeof (window as any).tvsignin?.fallback)).toBe('object');
  await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('sign-in')).toBeFocused();

  // Sign in is the page's plain form post: one navigation, back to the page.
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
  const loaded = navigations.length;
  await expect.poll(() => page.evaluate(() => typeof (window as any).tvsignin?.fallback)).toBe('object');

  // The countdown ticks.
  const countdown = page.getByTestId('countdown').locator('time');
  const first = await countdown.textContent();
  await expect(countdown).not.toHaveText(first!, { timeout: 3_000 });

  // The arrow keys move the focus between the actions.
  await expect(page.getByTestId('new-code')).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByTestId('cancel')).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await expect(page.getByTestId('new-code')).toBeFocused();

  await phoneSignIn(phoneBrowser, await qrTarget(page), ALICE);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'signed-in');
  await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell');
  await expect(page.getByTestId('sign-out')).toBeFocused();
  // Brought up to date in place: no reload between the code and the welcome.
  expect(navigations.length, navigations.join('\n')).toBe(loaded);
  expect(await page.locator('meta[http-equiv]').count()).toBe(0);

  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('sign-in')).toBeVisible();
  expect(watch.httpErrors).toEqual([]);
  return { page, watch };
}

test.describe('with the local provider', () => {
  const stack = useStack();

  test('full tier: the WebAssembly app pairs without any navigation and no meta refresh', async ({ browser }) => {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const page = await context.newPage();
    const watch = watchPage(page);
    const navigations = countNavigations(page);
    await page.goto(stack().appUrl + '/');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    expect(await page.evaluate(() => (window as any).tvsignin?.fallbackReason ?? null)).toBeNull();

    await page.getByTestId('sign-in').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    const axe = await new AxeBuilder({ page }).analyze();
    expect(axe.violations.filter((v) => v.id === 'meta-refresh')).toEqual([]);
    expect(await page.locator('meta[http-equiv]').count()).toBe(0);

    // The phone takes several seconds, longer than the old refresh's 3 s.
    await phoneSignIn(browser, await qrTarget(page), ALICE);
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell');
    expect(navigations, 'only the first load').toEqual([stack().appUrl + '/']);
    // The fallback never started.
    expect(await page.evaluate(() => (window as any).tvsignin?.fallbackReason ?? null)).toBeNull();
    expect(watch.consoleErrors).toEqual([]);
    await context.close();
  });

  test('live fallback: WebAssembly switched off in the engine (jitless V8)', async ({ browser }) => {
    const noWasm = await launchWith(NO_WASM);
    try {
      const context = await noWasm.newContext({ viewport: { width: 1280, height: 720 } });
      const { watch } = await fallbackPairs(context, browser, stack(), /^unsupported$/);
      expect(watch.consoleErrors).toEqual([]);
      // No WebAssembly was even fetched.
      expect(watch.bodies.filter((b) => b.url.endsWith('.wasm'))).toEqual([]);
    } finally {
      await noWasm.close();
    }
  });

  test('slow WebAssembly: the fallback keeps the screen live, then the app takes over', async ({ browser }) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    // Held back longer than the boot script waits (5 s), like a slow TV network.
    await context.route(/\.wasm$/, async (route) => {
      await new Promise((r) => setTimeout(r, 7_000));
      await route.continue();
    });
    const page = await context.newPage();
    const navigations = countNavigations(page);
    await page.goto(stack().appUrl + '/');
    await expect.poll(() => page.evaluate(() => (window as any).tvsignin?.fallbackReason ?? null), { timeout: 7_000 }).toBe('timeout');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 20_000 });
    // The app runs the screen now: Sign in is not a form post, and each arrow press moves the
    // focus once (were the fallback still listening, twice).
    await page.getByTestId('sign-in').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    await expect(page.getByTestId('new-code')).toBeFocused();
    await page.keyboard.press('ArrowDown');
    await expect(page.getByTestId('cancel')).toBeFocused();
    expect(navigations, 'only the first load').toEqual([stack().appUrl + '/']);
    await context.close();
  });

  test('live fallback: the WebAssembly file is blocked', async ({ browser }) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    await context.route(/\.wasm$/, (route) => route.abort());
    await fallbackPairs(context, browser, stack(), /^(failed|error|timeout)$/);
    await context.close();
  });
});

test.describe('with short kiosk timers', () => {
  const stack = useStack({ app: { IDLE_SIGN_OUT_SECS: '12', SIGN_OUT_WARNING_SECS: '8' } });

  test('live fallback: the idle warning shows, a key press keeps the TV, then it signs out', async ({ browser }) => {
    const noWasm = await launchWith(NO_WASM);
    try {
      const context = await noWasm.newContext({ viewport: { width: 1280, height: 720 } });
      const page = await context.newPage();
      await page.goto(stack().appUrl + '/');
      await page.getByTestId('sign-in').click();
      await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
      await phoneSignIn(browser, await qrTarget(page), ALICE);
      await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell');
      // 12 s idle limit, warning for the last 8 s: the warning shows after about 4 s.
      await expect(page.getByTestId('idle-warning')).toBeVisible({ timeout: 8_000 });
      const idle = page.getByTestId('idle-countdown');
      const shown = await idle.textContent();
      await expect(idle).not.toHaveText(shown!, { timeout: 3_000 });
      await page.keyboard.press('Shift');
      await expect(page.getByTestId('idle-warning')).toBeHidden();
      await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle', { timeout: 25_000 });
      await expect(page.getByTestId('sign-in')).toBeFocused();
      await context.close();
    } finally {
      await noWasm.close();
    }
  });
});
