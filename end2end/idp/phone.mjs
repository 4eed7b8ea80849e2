#!/usr/bin/env node
// A scripted phone for the device flow: it fills in and submits the same HTML forms a person
// would, with plain fetch and a small cookie jar (no browser, no JavaScript apart from the
// provider's auto-submitting form, which it submits as a browser would).
//
// Usage: node phone.mjs <verification_uri_complete | verification_uri> <user_code> <username> <password> <allow|deny|cancel>
//   allow   sign in and press "Allow"               -> ends on "Sign-in Success"
//   deny    sign in and press "Deny"                -> ends on the provider's "Sign-in denied" page
//   cancel  press "Cancel" on the code confirmation -> ends on "Sign-in cancelled"
//
// Prints one line describing the outcome. Exit codes: 0 the expected end page was reached;
// 1 anything unexpected (HTTP error, unknown page, wrong end page); 2 usage; 3 the provider
// rejected the username or password; 4 the provider rejected the user code.

const MODES = new Set(['allow', 'deny', 'cancel']);
const MAX_STEPS = 20;
const REQUEST_TIMEOUT_MS = 10_000;

class Outcome extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const fail = (code, message) => { throw new Outcome(code, message); };

// --- a minimal HTML reader, enough for the provider's own pages --------------------------

function decode(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function attrs(source) {
  const out = {};
  for (const [, name, dq, sq, bare] of source.matchAll(/([\w:.-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    out[name.toLowerCase()] = decode(dq ?? sq ?? bare ?? '');
  }
  return out;
}

const textOf = (html) => decode(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();

function readPage(html) {
  const noScripts = html.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, '');
  const forms = [...noScripts.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map((m) => ({
    ...attrs(m[1]),
    start: m.index,
    end: m.index + m[0].length,
    inputs: [...m[2].matchAll(/<input\b([^>]*)>/gi)].map((i) => attrs(i[1])),
  }));
  const buttons = [...noScripts.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map((m) => {
    const a = attrs(m[1]);
    // A button belongs to the form its `form` attribute names, else to the form around it.
    const form = a.form !== undefined
      ? forms.find((f) => f.id === a.form)
      : forms.find((f) => f.start < m.index && m.index < f.end);
    return { ...a, text: textOf(m[2]), form };
  });
  const body = noScripts.replace(/<head\b[\s\S]*?<\/head>/i, '');
  return {
    title: textOf(/<title>([\s\S]*?)<\/title>/i.exec(html)?.[1] ?? ''),
    text: textOf(body),
    alert: textOf(/<[^>]+role="alert"[^>]*>([\s\S]*?)<\//i.exec(body)?.[1] ?? ''),
    autoSubmit: /document\.forms\[0\]\.submit\(\)/.test(html),
    forms,
    buttons,
  };
}

// --- a browser-ish HTTP client: cookies, manual redirects, one origin only ---------------

class Browser {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map(); // "path name" -> { name, value, path }
  }

  storeCookies(headers, url) {
    for (const line of headers.getSetCookie()) {
      const [pair, ...options] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const opts = Object.fromEntries(options.map((o) => {
        const [k, ...v] = o.split('=');
        return [k.trim().toLowerCase(), v.join('=').trim()];
      }));
      const path = opts.path || url.pathname.replace(/\/[^/]*$/, '') || '/';
      const expired = opts['max-age'] !== undefined
        ? Number(opts['max-age']) <= 0
        : opts.expires !== undefined && Date.parse(opts.expires) <= Date.now();
      const key = `${path} ${name}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  cookieHeader(url) {
    const matches = (path) => url.pathname === path || url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`);
    return [...this.cookies.values()]
      .filter((c) => matches(c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  // Fetches `target`, follows redirects, and returns the final page.
  async open(target, { method = 'GET', form } = {}) {
    let url = new URL(target, this.origin);
    let body = form ? new URLSearchParams(form).toString() : undefined;
    for (let hop = 0; hop < 10; hop += 1) {
      if (url.origin !== this.origin) fail(1, `unexpected redirect away from the provider: ${url}`);
      const headers = { accept: 'text/html' };
      const cookie = this.cookieHeader(url);
      if (cookie) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, {
        method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      this.storeCookies(res.headers, url);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        url = new URL(location, url);
        if (res.status !== 307 && res.status !== 308) { method = 'GET'; body = undefined; }
        continue;
      }
      const html = await res.text();
      if (res.status >= 400) {
        const page = readPage(html);
        fail(1, `HTTP ${res.status} from ${method} ${url.pathname}: ${page.title} ${page.alert || page.text.slice(0, 200)}`);
      }
      return { url, ...readPage(html) };
    }
    return fail(1, 'too many redirects');
  }

  // Submits `form` the way clicking `button` (or a script's form.submit()) would.
  submit(page, form, fields = {}, button = undefined) {
    const data = [];
    for (const input of form.inputs) {
      if (!input.name || ['submit', 'button', 'image'].includes(input.type)) continue;
      data.push([input.name, input.name in fields ? fields[input.name] : (input.value ?? '')]);
    }
    if (button?.name) data.push([button.name, button.value ?? '']);
    const action = new URL(form.action || page.url.href, page.url);
    return this.open(action, { method: (form.method || 'GET').toUpperCase(), form: data });
  }

  click(page, label, fields) {
    const button = page.buttons.find((b) => b.text === label);
    if (!button?.form) fail(1, `no "${label}" button on page "${page.title}"`);
    return this.submit(page, button.form, fields, button);
  }
}

// --- the person ---------------------------------------------------------------------------

const hasInput = (page, name) => page.forms.some((f) => f.inputs.some((i) => i.name === name));
const hasButton = (page, label) => page.buttons.some((b) => b.text === label);
const normalizeCode = (code) => code.toUpperCase().replace(/[^A-Z0-9]/g, '');

async function run([uri, userCode, username, password, mode]) {
  const browser = new Browser(new URL(uri).origin);
  let page = await browser.open(uri);
  const done = new Set(); // forms already submitted once; a second time means a rejection

  for (let step = 0; step < MAX_STEPS; step += 1) {
    if (page.title === 'Sign-in Success') {
      if (mode === 'allow') return `allowed: ${username} signed in, the provider showed "Sign-in Success"`;
      fail(1, `expected to ${mode}, but the sign-in succeeded`);
    }
    if (page.title === 'Sign-in denied' || page.title === 'Sign-in cancelled') {
      const expected = mode === 'deny' ? 'Sign-in denied' : 'Sign-in cancelled';
      if (page.title === expected) return `${mode === 'deny' ? 'denied' : 'cancelled'}: the provider showed "${page.title}"`;
      fail(1, `expected to ${mode}, but the provider showed "${page.title}"`);
    }

    if (page.autoSubmit && page.forms.length) {
      page = await browser.submit(page, page.forms[0]);
    } else if (hasInput(page, 'user_code') && hasButton(page, 'Continue') && !hasInput(page, 'confirm')) {
      if (done.has('code')) fail(4, `user code ${userCode} rejected: ${page.alert || page.text}`);
      if (!userCode) fail(1, 'the provider asks for the user code, but none was given');
      done.add('code');
      page = await browser.click(page, 'Continue', { user_code: userCode });
    } else if (hasInput(page, 'confirm')) {
      if (userCode && !normalizeCode(page.text).includes(normalizeCode(userCode))) {
        fail(1, `the confirmation page does not show the code ${userCode}: ${page.text}`);
      }
      page = await browser.click(page, mode === 'cancel' ? 'Cancel' : 'Continue');
    } else if (hasInput(page, 'password') && hasButton(page, 'Sign in')) {
      if (done.has('login')) fail(3, `sign-in as ${username} rejected: ${page.alert || page.text}`);
      done.add('login');
      page = await browser.click(page, 'Sign in', { username, password });
    } else if (hasButton(page, 'Allow') && hasButton(page, 'Deny')) {
      if (mode === 'cancel') fail(1, 'reached the consent page although the code confirmation was cancelled');
      page = await browser.click(page, mode === 'allow' ? 'Allow' : 'Deny');
    } else {
      fail(1, `unknown page "${page.title}" at ${page.url.pathname}: ${page.alert || page.text.slice(0, 300)}`);
    }
  }
  return fail(1, `no end page after ${MAX_STEPS} steps`);
}

const args = process.argv.slice(2);
if (args.length !== 5 || !MODES.has(args[4]) || !URL.canParse(args[0])) {
  console.error('usage: node phone.mjs <verification_uri_complete|verification_uri> <user_code> <username> <password> <allow|deny|cancel>');
  process.exit(2);
}
try {
  console.log(await run(args));
} catch (err) {
  console.error(`phone: ${err.message}`);
  process.exitCode = err instanceof Outcome ? err.code : 1;
}
