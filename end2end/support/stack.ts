// Starts what an end-to-end test talks to, all on 127.0.0.1: the local OpenID provider
// (idp/server.mjs) and the release build of tvsignin configured for it. Stopped by stop().
import { test } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BINARY = process.env.TVSIGNIN_BIN ?? join(ROOT, 'target', 'release', 'tvsignin');
const SITE_ROOT = join(ROOT, 'target', 'site');

export interface Stack {
  issuer?: string;
  appUrl: string;
  logs: string[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      ok();
    });
    child.kill('SIGTERM');
  });
}

/** Starts the local provider; resolves with its issuer once it printed its ready line. */
export async function startIdp(env: Record<string, string> = {}): Promise<{ issuer: string; child: ChildProcess }> {
  const child = spawn('node', [join(ROOT, 'end2end', 'idp', 'server.mjs')], {
    env: { ...process.env, IDP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout! });
  const issuer = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('local provider did not start in 10 s')), 10_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      ok(JSON.parse(line).issuer);
    });
    child.once('exit', (code) => fail(new Error(`local provider exited with ${code}`)));
  });
  return { issuer, child };
}

/** Starts tvsignin with these settings on a free loopback port; waits for /healthz. */
export async function startApp(settings: Record<string, string>, logs: string[] = []): Promise<{ appUrl: string; child: ChildProcess }> {
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const child = spawn(BINARY, [], {
    // A scratch working directory: no Leptos.toml or .env of the checkout is picked up.
    cwd: mkdtempSync(join(tmpdir(), 'tvsignin-e2e-')),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      RUST_LOG: process.env.TVSIGNIN_LOG ?? 'info',
      LEPTOS_SITE_ROOT: SITE_ROOT,
      TVSIGNIN_CONFIG: '/nonexistent/Leptos.toml',
      LISTEN_ADDR: `127.0.0.1:${port}`,
      PUBLIC_URL: appUrl,
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => logs.push(line));
  }
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tvsignin exited with ${child.exitCode}:\n${logs.join('\n')}`);
    try {
      const response = await fetch(`${appUrl}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`tvsignin did not answer /healthz in 15 s:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { appUrl, child };
}

export interface StackOptions {
  /** Environment for the local provider (IDP_DEVICE_CODE_TTL, IDP_INTERVAL, IDP_SLOW_DOWN). */
  idp?: Record<string, string>;
  /** Extra settings for tvsignin. */
  app?: Record<string, string>;
  /** Run against the built-in demo provider instead of the local one. */
  demo?: boolean;
  /** The client of the local provider to use. */
  client?: 'tv-public' | 'tv-basic' | 'tv-post';
}

/** The local provider plus tvsignin configured for it (or tvsignin in demo mode). */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const logs: string[] = [];
  if (options.demo) {
    const app = await startApp({ ...(options.app ?? {}) }, logs);
    return { appUrl: app.appUrl, logs, stop: () => stopChild(app.child) };
  }
  const idp = await startIdp({ IDP_INTERVAL: '1', ...(options.idp ?? {}) });
  const client = options.client ?? 'tv-public';
  const secrets: Record<string, string> = { 'tv-basic': 'basic-secret', 'tv-post': 'post-secret' };
  const settings: Record<string, string> = { ISSUER: idp.issuer, CLIENT_ID: client, ...(options.app ?? {}) };
  if (secrets[client]) settings.CLIENT_SECRET = secrets[client];
  let app;
  try {
    app = await startApp(settings, logs);
  } catch (error) {
    await stopChild(idp.child);
    throw error;
  }
  return {
    issuer: idp.issuer,
    appUrl: app.appUrl,
    logs,
    stop: async () => {
      await stopChild(app.child);
      await stopChild(idp.child);
    },
  };
}

/** One stack for the tests of the enclosing describe block: started before them, stopped after. */
export function useStack(options: StackOptions = {}): () => Stack {
  let stack: Stack | undefined;
  test.beforeAll(async () => {
    stack = await startStack(options);
  });
  test.afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error('the stack is not running');
    return stack;
  };
}
