// The TV page in two real old engines from Debian's packages, run headless under Xvfb by
// engines/drive.py: QtWebEngine 5.15 (a Chromium 87 core, like 2021-22 TVs: WebAssembly MVP
// and module scripts, but no 'wasm-unsafe-eval') and QtWebKit 5.212 (a 2016 WebKit with
// JavaScript but no WebAssembly, like 2015-18 TVs). In each, the TV pairs with a phone and
// reaches its end state by itself; the Chromium 87 class also ends up running the
// WebAssembly app. With LANGUAGE and a brand set, each engine's screens speak the language
// (the fallback's server-rendered pages, and the app filling in the page's messages) and show
// the brand. The phone is today's Chromium.
import { test, expect, type Browser } from '@playwright/test';
import { useStack } from '../support/stack';
import { phoneSignIn } from '../support/phone';
import { openOldEngine, type OldEngine, type OldEngineName } from '../support/old-engine';
import { messages, messageStart } from '../support/screens';

const ALICE = { user: 'alice', password: 'wonderland' };
const ENGINES: OldEngineName[] = ['webengine', 'webkit'];

// Null-safe: an expression may run while a form post loads the next page.
const state = `(document.querySelector('[data-testid="status"]') || { getAttribute: function () { return null; } }).getAttribute('data-state')`;
const focused = `document.activeElement && document.activeElement.getAttribute('data-testid')`;

async function waitForState(tv: OldEngine, name: string, timeoutMs = 20_000) {
  await tv.waitFor(`${state} === ${JSON.stringify(name)}`, timeoutMs, `status ${name}`);
}

/** Home -> Sign in (OK on the remote) -> a code on screen; returns the QR's link. */
async function startPairing(tv: OldEngine): Promise<string> {
  await waitForState(tv, 'idle');
  // The live fallback (or the WebAssembly) is up and has focused Sign in.
  await tv.waitFor(`window.tvsignin && (window.tvsignin.fallback || (document.body && document.body.getAttribute('data-hydrated') === 'true'))`, 15_000, 'a live tier');
  await tv.waitFor(`${focused} === 'sign-in'`, 5_000, 'Sign in focused');
  await tv.key('Enter');
  await waitForState(tv, 'waiting');
  return tv.eval<string>(`document.querySelector('[data-testid="qr"]').getAttribute('data-target')`);
}

/** What the engine ran: the boot script's reason for the fallback, or hydration. */
async function tier(tv: OldEngine): Promise<string> {
  return tv.eval<string>(
    `document.body.getAttribute('data-hydrated') === 'true' ? 'hydrated' : 'fallback:' + (window.tvsignin && window.tvsignin.fallbackReason)`,
  );
}

async function uncaughtErrors(tv: OldEngine): Promise<string[]> {
  const { console } = await tv.log();
  return console.filter((c) => c.level === 'error' && /uncaught|panicked|unreachable/i.test(c.message)).map((c) => c.message);
}

for (const engine of ENGINES) {
  test.describe(`${engine}, with the local provider`, () => {
    const stack = useStack();

    test(`${engine}: a TV pairs with a phone and reaches signed-in by itself`, async ({ browser }) => {
      const tv = await openOldEngine(engine, stack().appUrl + '/');
      try {
        expect(await tier(tv)).toBe(engine === 'webkit' ? 'fallback:unsupported' : 'fallback:policy');
        const link = await startPairing(tv);
        expect(link).toContain(`${stack().issuer}/device?user_code=`);
        if (engine === 'webengine') {
          // The boot script noted that this engine needs 'unsafe-eval' for WebAssembly; the
          // page after Sign in got that policy and the WebAssembly app took over.
          await tv.waitFor(`document.body && document.body.getAttribute('data-hydrated') === 'true'`, 20_000, 'hydrated');
          expect(await tier(tv)).toBe('hydrated');
          // The note names the engine's version, so an updated TV gets the strict policy again.
          expect(await tv.eval<string>('document.cookie')).toMatch(/(^|; )tvsignin_wasm_eval=87(;|$)/);
        } else {
          // The countdown ticks.
          const time = `document.querySelector('[data-testid="countdown"] time').textContent`;
          const first = await tv.eval<string>(time);
          await tv.waitFor(`${time} !== ${JSON.stringify(first)}`, 3_000, 'the countdown ticks');
        }
        // The remote's arrows move the focus.
        await tv.waitFor(`${focused} === 'new-code'`, 5_000, 'New code focused');
        await tv.key('ArrowDown');
        await tv.waitFor(`${focused} === 'cancel'`, 3_000, 'Cancel focused after ArrowDown');
        await tv.key('ArrowUp');
        await tv.waitFor(`${focused} === 'new-code'`, 3_000, 'New code focused after ArrowUp');

        const loadsBefore = (await tv.log()).loads;
        await phoneSignIn(browser, link, ALICE);
        await waitForState(tv, 'signed-in');
        expect(await tv.eval(`document.querySelector('[data-testid="welcome"]').textContent`)).toBe('Welcome, Alice Liddell');
        // The screen was brought up to date without reloading the page.
        expect((await tv.log()).loads).toBe(loadsBefore);
        await tv.waitFor(`${focused} === 'sign-out'`, 5_000, 'Sign out focused');

        await tv.key('Enter');
        await waitForState(tv, 'idle');
        expect(await uncaughtErrors(tv)).toEqual([]);
      } finally {
        await tv.close();
      }
    });

    test(`${engine}: declined on the phone`, async ({ browser }) => {
      const tv = await openOldEngine(engine, stack().appUrl + '/');
      try {
        const link = await startPairing(tv);
        await phoneSignIn(browser, link, { ...ALICE, action: 'deny' });
        await waitForState(tv, 'denied');
        await tv.waitFor(`${focused} === 'new-code'`, 5_000, 'New code focused');
        expect(await uncaughtErrors(tv)).toEqual([]);
      } finally {
        await tv.close();
      }
    });
  });

  test.describe(`${engine}, with a short code lifetime`, () => {
    const stack = useStack({ idp: { IDP_DEVICE_CODE_TTL: '5' } });

    test(`${engine}: the code expires on screen, and New code gives a fresh one`, async () => {
      const tv = await openOldEngine(engine, stack().appUrl + '/');
      try {
        await startPairing(tv);
        const code = await tv.eval<string>(`document.querySelector('[data-testid="user-code"]').textContent`);
        await waitForState(tv, 'expired', 20_000);
        await tv.waitFor(`${focused} === 'new-code'`, 5_000, 'New code focused');
        await tv.key('Enter');
        await waitForState(tv, 'waiting');
        expect(await tv.eval<string>(`document.querySelector('[data-testid="user-code"]').textContent`)).not.toBe(code);
      } finally {
        await tv.close();
      }
    });
  });

  test.describe(`${engine}, in Japanese with a brand`, () => {
    const stack = useStack({ app: { LANGUAGE: 'ja', ORG_NAME: 'Acme Hotels', ACCENT_COLOR: '#0a5cad' } });

    test(`${engine}: every screen on the way to signed-in speaks the language and shows the brand`, async ({ browser }) => {
      const t = messages('ja');
      const tv = await openOldEngine(engine, stack().appUrl + '/');
      const text = (testid: string) => tv.eval<string>(`document.querySelector('[data-testid="${testid}"]').textContent`);
      try {
        expect(await tv.eval<string>(`document.documentElement.getAttribute('lang')`)).toBe('ja');
        expect(await text('brand-name')).toBe('Acme Hotels');
        expect(await text('status')).toBe(t['status-idle']);
        const link = await startPairing(tv);
        if (engine === 'webengine') {
          // From here the WebAssembly app fills in the page's messages itself.
          await tv.waitFor(`document.body && document.body.getAttribute('data-hydrated') === 'true'`, 20_000, 'hydrated');
        }
        expect(await text('status')).toBe(t['status-waiting']);
        expect(await text('countdown')).toContain(messageStart('ja', 'code-expires').trim());
        expect(await text('phishing-warning')).toContain('Acme Hotels');
        expect(await text('cancel')).toBe(t['button-cancel']);
        await phoneSignIn(browser, link, ALICE);
        await waitForState(tv, 'signed-in');
        expect(await text('status')).toBe(t['status-signed-in']);
        expect(await text('welcome')).toBe('ようこそ、Alice Liddell さん');
        expect(await text('sign-out')).toBe(t['button-sign-out']);
        expect(await tv.eval<string>('document.title')).toBe(`${t['page-title']} · Acme Hotels`);
        expect(await uncaughtErrors(tv)).toEqual([]);
      } finally {
        await tv.close();
      }
    });
  });
}
