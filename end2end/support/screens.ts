// The message files as the tests read them, and the checks every localised screen must pass:
// no English left where a translation exists, axe-core finds nothing serious or critical, and
// nothing leaves the safe area at 720p, 1080p and 4K.
import { expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './stack';

export const LANGUAGES = ['en', 'de', 'fr', 'es', 'ja'] as const;
export type Language = (typeof LANGUAGES)[number];

export const SIZES = [
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
  { width: 3840, height: 2160 },
];

/** The TV page's messages, or the demo provider's phone pages' (`phone.ftl`). */
export type MessageFile = 'main.ftl' | 'phone.ftl';

/** One language's messages that have no placeables and fit on one line, by id. */
export function messages(lang: Language, file: MessageFile = 'main.ftl'): Record<string, string> {
  const text = readFileSync(join(ROOT, 'locales', lang, file), 'utf8');
  const found: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([a-z][a-z0-9-]*) = ([^{}]+)$/.exec(line);
    if (match) found[match[1]] = match[2].trim();
  }
  return found;
}

/** The text of a message with placeables, cut at its first placeable (for a prefix match). */
export function messageStart(lang: Language, id: string): string {
  const text = readFileSync(join(ROOT, 'locales', lang, 'main.ftl'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${id} = `));
  if (!line) throw new Error(`no message ${id} in ${lang}`);
  return line.slice(id.length + 3).split('{')[0];
}

function escape(text: string) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** No English message shows on the page where `lang` says something else (`except`: ids
 *  whose English words are also data on the page, such as a user named "Alice Demo"). */
export async function expectNoEnglish(page: Page, lang: Language, file: MessageFile = 'main.ftl', except: string[] = []) {
  if (lang === 'en') return;
  const english = messages('en', file);
  const own = messages(lang, file);
  const shown = (await page.locator('body').innerText()) + '\n' + (await page.title());
  const left = Object.entries(english)
    .filter(([id, text]) => own[id] !== text && !except.includes(id))
    .filter(([, text]) => new RegExp(`(^|\\W)${escape(text)}(\\W|$)`).test(shown))
    .map(([id, text]) => `${id}: ${text}`);
  expect(left, `English on the ${lang} page`).toEqual([]);
}

/** axe-core's serious and critical findings, as short lines. */
export async function seriousAxeFindings(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Everything visible in `main` sits inside the 5% safe area and inside its own box. */
export async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const { innerWidth: w, innerHeight: h } = window;
    const slack = 1;
    for (const el of Array.from(document.querySelectorAll('main *'))) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      const name = el.getAttribute('data-testid') ?? el.tagName.toLowerCase();
      if (box.left < w * 0.05 - slack || box.right > w * 0.95 + slack || box.top < h * 0.05 - slack || box.bottom > h * 0.95 + slack) {
        found.push(`${name} outside the safe area`);
      }
      // A long word that does not wrap shows as content wider than its box.
      if (el.scrollWidth > el.clientWidth + slack && getComputedStyle(el).overflowX === 'visible' && el.clientWidth > 0) {
        found.push(`${name} overflows its box (${el.scrollWidth} > ${el.clientWidth})`);
      }
    }
    return found;
  });
}

/**
 * Each control on the screen, when focused, shows a focus ring: a solid outline at least 2 px
 * wide, in a colour that stands out from the page (3:1), with the ring inside the viewport.
 * The focus goes back where it was.
 */
export async function focusProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const before = document.activeElement as HTMLElement | null;
    const luminance = (css: string) => {
      const m = /rgba?\(([\d.]+), ([\d.]+), ([\d.]+)/.exec(css);
      if (!m) return null;
      const [r, g, b] = [m[1], m[2], m[3]].map((v) => {
        const c = Number(v) / 255;
        return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ground = luminance(getComputedStyle(document.body).backgroundColor);
    const controls = Array.from(document.querySelectorAll<HTMLElement>('main button:not([disabled]), main a[href], main input, main select'));
    for (const el of controls) {
      el.focus();
      const name = el.getAttribute('data-testid') ?? el.tagName.toLowerCase();
      if (document.activeElement !== el) {
        found.push(`${name} cannot take the focus`);
        continue;
      }
      const style = getComputedStyle(el);
      const width = parseFloat(style.outlineWidth);
      if (style.outlineStyle === 'none' || !(width >= 2)) {
        found.push(`${name} shows no focus ring (${style.outlineStyle} ${style.outlineWidth})`);
        continue;
      }
      const ring = luminance(style.outlineColor);
      if (ring !== null && ground !== null) {
        const ratio = (Math.max(ring, ground) + 0.05) / (Math.min(ring, ground) + 0.05);
        if (ratio < 3) found.push(`${name}'s focus ring is too faint (${ratio.toFixed(2)}:1)`);
      }
      const box = el.getBoundingClientRect();
      const reach = width + parseFloat(style.outlineOffset || '0');
      if (box.left - reach < 0 || box.top - reach < 0 || box.right + reach > innerWidth || box.bottom + reach > innerHeight) {
        found.push(`${name}'s focus ring leaves the screen`);
      }
    }
    if (before && typeof before.focus === 'function') before.focus();
    return found;
  });
}

/** At each of the three sizes: no serious axe finding, no layout problem, every focus ring shows. */
export async function checkEverySize(page: Page, screen: string) {
  for (const size of SIZES) {
    await page.setViewportSize(size);
    const problems = [...(await seriousAxeFindings(page)), ...(await layoutProblems(page)), ...(await focusProblems(page))];
    expect(problems, `${screen} at ${size.width}x${size.height}`).toEqual([]);
  }
  await page.setViewportSize(SIZES[1]);
}
