// The TV and the phone, as people use them, against the real local OpenID provider.
import { test, expect, type Page, type Browser } from '@playwright/test';
import { startStack, type Stack } from '../support/stack';
import { phoneSignIn, decodeQr } from '../support/phone';
import { watchPage } from '../support/watch';

const ALICE = { user: 'alice', password: 'wonderland' };
const BOB = { user: 'bob', password: 'builder' };
// The TVs ask for the phone and address scopes too, so the provider does send Alice's phone
// number and home address: the TV, a shared screen, must still show only SHOW_CLAIMS.
const SCOPE = 'openid profile email phone address';
const ALICE_PHONE = '+44 20 7946 0958';
const ALICE_STREET = '7 Rabbit Hole Lane';

async function openTv(browser: Browser, stack: Stack, size = { width: 1920, height: 1080 }) {
  const context = await browser.newContext({ viewport: size });
  const page = await context.newPage();
  const watch = watchPage(page);
  await page.goto(stack.appUrl + '/');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  return { context, page, watch };
}

async function startPairing(page: Page) {
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
  return (await page.getByTestId('user-code').textContent())!.trim();
}

async function qrLink(page: Page) {
  return decodeQr(await page.getByTestId('qr').screenshot());
}

/** Everything visible sits inside the 5% safe area, and text is at least `minFont` px. */
async function checkLayout(page: Page, minFont: number) {
  const problems = await page.evaluate((minFont) => {
    const found: string[] = [];
    const { innerWidth: w, innerHeight: h } = window;
    for (const el of Array.from(document.querySelectorAll('main *'))) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      const name = el.getAttribute('data-testid') ?? el.tagName.toLowerCase();
      const slack = 1;
      if (box.left < w * 0.05 - slack || box.right > w * 0.95 + slack || box.top < h * 0.05 - slack || box.bottom > h * 0.95 + slack) {
        found.push(`${name} outside the safe area: ${JSON.stringify(box)}`);
      }
      const hasText = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent!.trim() !== '');
      if (hasText && parseFloat(getComputedStyle(el).fontSize) < minFont) {
        found.push(`${name} text is ${getComputedStyle(el).fontSize}`);
      }
    }
    return found;
  }, minFont);
  expect(problems).toEqual([]);
}

async function providerGet(stack: Stack, path: string) {
  return (await fetch(stack.issuer + path)).json();
}

/** The claims table as [name, value] rows, top to bottom. */
async function claimRows(page: Page) {
  return page.getByTestId('claims').locator('tr').evaluateAll((rows) =>
    rows.map((row) => [row.querySelector('th')?.textContent?.trim(), row.querySelector('td')?.textContent?.trim()]));
}

/** The first event of the TV's push stream (its current status), as the page would get it. */
async function firstPushEvent(page: Page) {
  return page.evaluate(async () => {
    const controller = new AbortController();
    const response = await fetch('/events', { signal: controller.signal });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (let reads = 0; reads < 100 && !text.includes('\n\n'); reads++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    return text;
  });
}

test.describe('with the local provider', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ app: { SCOPE } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('happy path through the QR code, then sign-out revokes the token', async ({ browser }, testInfo) => {
    const { context, page, watch } = await openTv(browser, stack);
    const code = await startPairing(page);
    expect(code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    await expect(page.getByTestId('verification-uri')).toHaveText(`${stack.issuer}/device`);
    await expect(page.getByTestId('countdown')).toContainText(/\d+:\d\d/);
    await expect(page.getByTestId('phishing-warning')).toBeVisible();

    for (const [name, width, height] of [['720p', 1280, 720], ['1080p', 1920, 1080], ['4k', 3840, 2160]] as const) {
      await page.setViewportSize({ width, height });
      await checkLayout(page, 24);
      await page.screenshot({ path: testInfo.outputPath(`pairing-${name}.png`) });
    }
    await page.setViewportSize({ width: 1920, height: 1080 });

    // The phone opens what a camera would read from the TV's QR code.
    const link = await qrLink(page);
    expect(link).toBe(`${stack.issuer}/device?user_code=${code}`);
    const approvedAt = Date.now();
    await phoneSignIn(browser, link, ALICE);

    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'signed-in');
    testInfo.annotations.push({ type: 'approval-to-tv-ms', description: String(Date.now() - approvedAt) });
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell');
    // By default a short list that says who signed in, and nothing more: no phone number, no
    // address, no tenant.
    expect(await claimRows(page)).toEqual([
      ['name', 'Alice Liddell'],
      ['preferred_username', 'alice'],
      ['email', 'alice@example.test'],
    ]);
    await expect(page.getByTestId('sign-out')).toBeFocused();
    for (const [name, width, height] of [['720p', 1280, 720], ['1080p', 1920, 1080], ['4k', 3840, 2160]] as const) {
      await page.setViewportSize({ width, height });
      await checkLayout(page, 24);
      await page.screenshot({ path: testInfo.outputPath(`signed-in-${name}.png`) });
    }

    // The hidden claims are not merely hidden: neither the push stream nor the page (reloaded,
    // so rendered by the server) carries them.
    const pushed = await firstPushEvent(page);
    expect(pushed).toContain('alice@example.test');
    await page.reload();
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByTestId('claims')).toContainText('alice@example.test');
    const received = [...watch.bodies, { url: '/events', body: pushed }];
    expect(received.some(({ body }) => body.includes('Alice Liddell'))).toBe(true);
    for (const { url, body } of received) {
      for (const hidden of [ALICE_PHONE, ALICE_STREET, 'wonderland-tenant', 'Oxford']) {
        expect(body, url).not.toContain(hidden);
      }
    }

    // Secrets never reached the browser.
    const { access_token: accessToken } = await providerGet(stack, '/__test/last-access-token?sub=alice');
    const { device_code: deviceCode } = await providerGet(stack, `/__test/device-code?user_code=${code}`);
    expect(accessToken).toBeTruthy();
    expect(deviceCode).toBeTruthy();
    for (const { url, body } of watch.bodies) {
      expect(body, url).not.toContain(accessToken);
      expect(body, url).not.toContain(deviceCode);
    }

    // The token works until sign-out, and not after.
    const userinfo = () => fetch(`${stack.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect((await userinfo()).status).toBe(200);
    await page.getByTestId('sign-out').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle');
    await expect(page.getByTestId('sign-in')).toBeVisible();
    expect((await userinfo()).status).toBe(401);

    expect(watch.consoleErrors).toEqual([]);
    expect(watch.httpErrors).toEqual([]);
    await context.close();
  });

  test('manual path: the phone opens the plain link and types the code', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    const code = await startPairing(page);
    const uri = (await page.getByTestId('verification-uri').textContent())!.trim();
    await phoneSignIn(browser, uri, { ...BOB, code });
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Bob Builder');
    await context.close();
  });

  test('declined on the phone', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await startPairing(page);
    await phoneSignIn(browser, await qrLink(page), { ...ALICE, action: 'deny' });
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'denied');
    await expect(page.getByTestId('status')).toHaveText('Sign-in was declined.');
    await expect(page.getByTestId('new-code')).toBeFocused();
    await context.close();
  });

  test('cancel returns to Home, and a reload mid-pairing keeps the code', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    const code = await startPairing(page);
    await page.reload();
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    await expect(page.getByTestId('user-code')).toHaveText(code);
    await page.getByTestId('cancel').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle');
    await expect(page.getByTestId('sign-in')).toBeFocused();
    await context.close();
  });

  test('two TVs pair at once with different accounts', async ({ browser }) => {
    const tv1 = await openTv(browser, stack);
    const tv2 = await openTv(browser, stack);
    const code1 = await startPairing(tv1.page);
    const code2 = await startPairing(tv2.page);
    expect(code1).not.toBe(code2);
    await Promise.all([
      phoneSignIn(browser, await qrLink(tv1.page), ALICE),
      phoneSignIn(browser, await qrLink(tv2.page), BOB),
    ]);
    await expect(tv1.page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell');
    await expect(tv2.page.getByTestId('welcome')).toHaveText('Welcome, Bob Builder');
    await expect(tv1.page.getByTestId('claims')).not.toContainText('bob');
    await tv1.context.close();
    await tv2.context.close();
  });

  test('keyboard only on the TV', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await expect(page.getByTestId('sign-in')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    await expect(page.getByTestId('new-code')).toBeFocused();
    const first = (await page.getByTestId('user-code').textContent())!.trim();
    // Arrow keys move between the actions; Enter presses the focused one.
    await page.keyboard.press('ArrowRight');
    await expect(page.getByTestId('cancel')).toBeFocused();
    await page.keyboard.press('ArrowLeft');
    await expect(page.getByTestId('new-code')).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('user-code')).not.toHaveText(first);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle');
    await context.close();
  });

  test('without JavaScript the server-rendered pages still pair a TV', async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await page.goto(stack.appUrl + '/');
    await page.getByTestId('sign-in').click();
    // The form post comes back to the page, which refreshes itself until the code is there.
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    const code = (await page.getByTestId('user-code').textContent())!.trim();
    const link = await qrLink(page);
    expect(link).toContain(code);
    await phoneSignIn(browser, link, ALICE);
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell', { timeout: 20_000 });
    await page.getByTestId('sign-out').click();
    await expect(page.getByTestId('sign-in')).toBeVisible();
    await context.close();
  });
});

test.describe('with SHOW_CLAIMS naming other claims', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ app: { SCOPE, SHOW_CLAIMS: 'phone_number, address, ext.tenantId' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('the TV shows exactly those, in that order', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await startPairing(page);
    await phoneSignIn(browser, await qrLink(page), ALICE);
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell');
    // A parent name (address) brings what is nested under it; unnamed claims stay away.
    expect(await claimRows(page)).toEqual([
      ['phone_number', ALICE_PHONE],
      ['address.country', 'GB'],
      ['address.locality', 'Oxford'],
      ['address.postal_code', 'OX1 4AU'],
      ['address.street_address', ALICE_STREET],
      ['ext.tenantId', 'wonderland-tenant'],
    ]);
    await expect(page.getByTestId('claims')).not.toContainText('alice@example.test');
    await context.close();
  });
});

test.describe('with SHOW_CLAIMS=none', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ app: { SHOW_CLAIMS: 'none' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('the TV welcomes the person by name and shows no claims table', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await startPairing(page);
    await phoneSignIn(browser, await qrLink(page), ALICE);
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell');
    await expect(page.getByTestId('sign-out')).toBeFocused();
    await expect(page.getByTestId('claims')).toHaveCount(0);
    await expect(page.locator('main')).not.toContainText('alice@example.test');
    await context.close();
  });
});

test.describe('with a short code lifetime', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ idp: { IDP_DEVICE_CODE_TTL: '4' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('the code expires, then New code gives a fresh one', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    const first = await startPairing(page);
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'expired', { timeout: 15_000 });
    await expect(page.getByTestId('status')).toHaveText('This code expired.');
    await expect(page.getByTestId('new-code')).toBeFocused();
    await page.getByTestId('new-code').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    await expect(page.getByTestId('user-code')).not.toHaveText(first);
    await context.close();
  });
});

test.describe('with a provider that enforces slow_down', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    // The provider advertises 1 s but insists on 3 s between polls.
    stack = await startStack({ idp: { IDP_INTERVAL: '1', IDP_SLOW_DOWN: '1', IDP_SLOW_DOWN_GAP: '3' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('the TV slows down and still signs in', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await startPairing(page);
    // Let a few polls happen so the provider answers slow_down at least once.
    await expect.poll(async () => (await providerGet(stack, '/__test/stats')).slow_downs, { timeout: 15_000 }).toBeGreaterThan(0);
    await phoneSignIn(browser, await qrLink(page), ALICE);
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell', { timeout: 20_000 });
    // After one slow_down the interval is 6 s, above the provider's 3 s: no more slow_downs.
    expect((await providerGet(stack, '/__test/stats')).slow_downs).toBe(1);
    await context.close();
  });
});

test.describe('with short kiosk timers', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ app: { IDLE_SIGN_OUT_SECS: '12', SIGN_OUT_WARNING_SECS: '10', EXPIRED_RETURN_HOME_SECS: '2' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('a shared screen warns, a key press keeps it, then it signs itself out', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await startPairing(page);
    await phoneSignIn(browser, await qrLink(page), ALICE);
    await expect(page.getByTestId('welcome')).toHaveText('Welcome, Alice Liddell');
    // 12 s idle limit, warning for the last 10 s: the warning shows within ~2 s.
    await expect(page.getByTestId('idle-warning')).toBeVisible({ timeout: 5_000 });
    await expect(page.getByTestId('idle-countdown')).toHaveText(/^0:(0\d|10)$/);
    await page.keyboard.press('Shift');
    await expect(page.getByTestId('idle-warning')).toBeHidden();
    const { access_token: accessToken } = await providerGet(stack, '/__test/last-access-token?sub=alice');
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle', { timeout: 20_000 });
    await expect(page.getByTestId('sign-in')).toBeFocused();
    // The automatic sign-out revoked the token too.
    const userinfo = await fetch(`${stack.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(userinfo.status).toBe(401);
    await context.close();
  });
});

test.describe('with a very short code lifetime and quick return to Home', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ idp: { IDP_DEVICE_CODE_TTL: '3' }, app: { EXPIRED_RETURN_HOME_SECS: '2' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('an expired code goes back to Home by itself', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await startPairing(page);
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'expired', { timeout: 10_000 });
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle', { timeout: 10_000 });
    await context.close();
  });
});

test.describe('with a low pairing rate limit', () => {
  let stack: Stack;
  test.beforeAll(async () => {
    stack = await startStack({ app: { PAIRING_RATE_LIMIT: '2' } });
  });
  test.afterAll(async () => {
    await stack?.stop();
  });

  test('too many new codes: the TV says when to try again', async ({ browser }) => {
    const { context, page } = await openTv(browser, stack);
    await startPairing(page);
    await page.getByTestId('new-code').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
    await page.getByTestId('new-code').click();
    await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'throttled');
    await expect(page.getByTestId('status')).toContainText(/Try again in \d+:\d\d\./);
    await expect(page.locator('.outcome')).toContainText('Try again in a moment');
    await context.close();
  });
});
