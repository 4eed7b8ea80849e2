// The foundation works: the TV page renders on the server, hydrates, and a server function
// round trip changes what it shows, with no console errors and no failed requests.
import { test, expect } from '@playwright/test';
import { startStack, Stack } from '../support/stack';
import { watchPage } from '../support/watch';

let stack: Stack;
test.beforeAll(async () => {
  stack = await startStack();
});
test.afterAll(async () => {
  await stack?.stop();
});

test('home renders on the server, hydrates, and a server function round trip works', async ({ page, request }) => {
  // Server-side rendering: the raw HTML already has the Sign in button and the status.
  const html = await (await request.get(stack.appUrl + '/')).text();
  expect(html).toContain('data-testid="sign-in"');
  expect(html).toContain('data-state="idle"');

  const watch = watchPage(page);
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(stack.appUrl + '/');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'idle');

  // The server function starts a device authorization at the provider.
  await page.getByTestId('sign-in').click();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'waiting');
  await expect(page.getByTestId('user-code')).toHaveText(/^[A-Z]{4}-[A-Z]{4}$/);

  expect(watch.consoleErrors).toEqual([]);
  expect(watch.httpErrors).toEqual([]);
});
