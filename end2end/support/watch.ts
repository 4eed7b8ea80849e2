// Watches a page for console errors and HTTP failures, and keeps every response body the TV
// receives so tests can prove no secret reached the browser.
import type { Page } from '@playwright/test';

export interface PageWatch {
  consoleErrors: string[];
  httpErrors: string[];
  bodies: { url: string; body: string }[];
}

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { consoleErrors: [], httpErrors: [], bodies: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') watch.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => watch.consoleErrors.push(String(error)));
  page.on('response', async (response) => {
    if (response.status() >= 400) watch.httpErrors.push(`${response.status()} ${response.url()}`);
    const type = response.headers()['content-type'] ?? '';
    if (/json|html|text|javascript/.test(type) && !response.url().endsWith('/events')) {
      try {
        watch.bodies.push({ url: response.url(), body: await response.text() });
      } catch {
        // bodies of redirects or aborted requests are not available
      }
    }
  });
  return watch;
}
