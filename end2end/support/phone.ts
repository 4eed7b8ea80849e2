// The phone side, as a person would do it: a separate browser context with a mobile profile
// that opens the verification link, confirms or types the code, signs in and allows or denies.
import { expect, devices, type Browser } from '@playwright/test';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';

export interface PhoneOptions {
  user: string;
  password: string;
  action?: 'allow' | 'deny';
  /** Type this code (when the link is the plain verification URI). */
  code?: string;
}

/** Signs in on the local provider's pages from a fresh phone context. */
export async function phoneSignIn(browser: Browser, url: string, options: PhoneOptions): Promise<void> {
  const { defaultBrowserType: _ignored, ...pixel } = devices['Pixel 7'];
  const context = await browser.newContext({ ...pixel });
  const page = await context.newPage();
  try {
    await page.goto(url);
    if (options.code) {
      await page.locator('input[name="user_code"]').fill(options.code);
      await page.getByRole('button', { name: 'Continue' }).click();
    }
    // Confirm the code shown is the one on the TV.
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('input[name="username"]').fill(options.user);
    await page.locator('input[name="password"]').fill(options.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const allow = (options.action ?? 'allow') === 'allow';
    await page.getByRole('button', { name: allow ? 'Allow' : 'Deny' }).click();
    await expect(page.locator('body')).toContainText(allow ? 'Sign-in Success' : 'denied');
  } finally {
    await context.close();
  }
}

/** Decodes the QR code in a PNG screenshot. */
export function decodeQr(png: Buffer): string {
  const image = PNG.sync.read(png);
  const result = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  if (!result) throw new Error('no QR code found in the screenshot');
  return result.data;
}

/** The same, on the built-in demo provider's pages. */
export async function demoPhoneSignIn(browser: Browser, url: string, options: PhoneOptions): Promise<void> {
  const { defaultBrowserType: _ignored, ...pixel } = devices['Pixel 7'];
  const context = await browser.newContext({ ...pixel });
  const page = await context.newPage();
  try {
    await page.goto(url);
    await expect(page.getByTestId('demo-badge')).toHaveText('Demo');
    if (options.code) await page.getByTestId('demo-code-input').fill(options.code);
    await page.getByTestId('demo-continue').click();
    await page.getByTestId('demo-user').selectOption(options.user);
    await page.getByTestId('demo-password').fill(options.password);
    const allow = (options.action ?? 'allow') === 'allow';
    await page.getByTestId(allow ? 'demo-allow' : 'demo-deny').click();
    await expect(page.getByTestId('demo-result')).toBeVisible();
  } finally {
    await context.close();
  }
}
