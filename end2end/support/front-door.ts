// tvsignin as the front door of an app, as an operator sets it up, all on 127.0.0.1: a real
// nginx from Debian (its auth_request module asks tvsignin's /auth before each request to the
// app) with tvsignin mounted under /tvsignin/ on the same host, the local OpenID provider, and
// a small upstream app that shows the request headers it received. nginx runs from a
// generated configuration in a temporary directory (pid, logs and buffers there too), in the
// foreground, and at most MAX_SECONDS.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startApp, startIdp } from './stack';

export const PREFIX = '/tvsignin';
const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
/** However a test run ends, nginx does not outlive this. */
const MAX_SECONDS = 600;

/** The identity headers tvsignin answers /auth with, and nginx hands to the app. */
export const IDENTITY_HEADERS = [
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-preferred-username',
  'x-auth-request-groups',
  'x-auth-request-access-token',
  'x-auth-request-jwt',
];

export interface FrontDoor {
  /** nginx: the app at `/`, tvsignin under `/tvsignin/`. */
  url: string;
  /** tvsignin itself, bypassing nginx. */
  tvsigninDirect: string;
  issuer: string;
  /** Every request the app received, oldest first. */
  appRequests: { url: string; headers: IncomingHttpHeaders }[];
  logs: string[];
  /** The nginx configuration in use (for failure messages). */
  config: string;
  stop(): Promise<void>;
}

export function nginxAvailable(): boolean {
  return spawnSync(NGINX, ['-v'], { stdio: 'ignore' }).status === 0;
}

/** Stops a child; one started in a process group of its own is killed with its group if need be. */
function stopChild(child: ChildProcess, group = false): Promise<void> {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok();
    const timer = setTimeout(() => {
      if (group && child.pid) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    }, 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      ok();
    });
    child.kill('SIGTERM');
  });
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The app behind the front door: a page showing the headers of the request that loaded it. */
async function startUpstreamApp(requests: FrontDoor['appRequests']): Promise<{ port: number; server: Server }> {
  const server = createServer((request, response) => {
    requests.push({ url: request.url ?? '', headers: request.headers });
    const shown = escapeHtml(JSON.stringify(request.headers, null, 1));
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(
      '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Kiosk app</title></head>' +
        '<body><h1 data-testid="app">Kiosk app</h1>' +
        `<pre data-testid="app-headers">${shown}</pre>` +
        `<a data-testid="app-sign-out" href="${PREFIX}/sign-out">Sign out of this TV</a></body></html>`,
    );
  });
  const port = await new Promise<number>((ok) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      ok(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return { port, server };
}

/**
 * The nginx configuration: tvsignin under PREFIX (its push stream unbuffered), /auth for
 * subrequests only, and the app behind auth_request, which gets the identity headers from
 * /auth's answer and never the client's own: proxy_set_header replaces a header the client
 * sent under the same name, and sends nothing when /auth named no value.
 */
export function nginxConfig(dir: string, port: number, tvsignin: number, app: number): string {
  const identity = IDENTITY_HEADERS.map((name) => {
    const variable = `$tv_${name.slice('x-auth-request-'.length).replace(/-/g, '_')}`;
    return { name, variable, upstream: `$upstream_http_${name.replace(/-/g, '_')}` };
  });
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};

    # tvsignin, mounted under ${PREFIX}/ (PUBLIC_URL=http://127.0.0.1:${port}${PREFIX}).
    location ${PREFIX}/ {
      proxy_pass http://127.0.0.1:${tvsignin};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }

    # The forward-auth check: for nginx's own subrequests only.
    location = ${PREFIX}/auth {
      internal;
      proxy_pass http://127.0.0.1:${tvsignin};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Original-URI $request_uri;
    }

    # The app: only for a signed-in TV, with who signed in.
    location / {
      auth_request ${PREFIX}/auth;
${identity.map((h) => `      auth_request_set ${h.variable} ${h.upstream};`).join('\n')}
${identity.map((h) => `      proxy_set_header ${h.name} ${h.variable};`).join('\n')}
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      error_page 401 = @sign_in;
      proxy_pass http://127.0.0.1:${app};
    }
    location @sign_in {
      return 302 ${PREFIX}/;
    }
  }
}
`;
}

async function waitForNginx(url: string, nginx: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (nginx.exitCode !== null) {
      throw new Error(`nginx exited with ${nginx.exitCode}:\n${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    }
    try {
      const response = await fetch(`${url}${PREFIX}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('nginx did not answer within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface FrontDoorOptions {
  /** Extra settings for tvsignin. */
  app?: Record<string, string>;
  /** Environment for the local provider. */
  idp?: Record<string, string>;
}

/** The local provider, tvsignin under PREFIX, the app, and nginx in front of both. */
export async function startFrontDoor(options: FrontDoorOptions = {}): Promise<FrontDoor> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step();
  };
  try {
    const appRequests: FrontDoor['appRequests'] = [];
    const logs: string[] = [];
    const app = await startUpstreamApp(appRequests);
    stops.push(() => new Promise<void>((ok) => app.server.close(() => ok())));
    const idp = await startIdp({ IDP_INTERVAL: '1', ...(options.idp ?? {}) });
    stops.push(() => stopChild(idp.child));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const tvsignin = await startApp(
      {
        ISSUER: idp.issuer,
        CLIENT_ID: 'tv-public',
        SCOPE: 'openid profile email groups',
        PUBLIC_URL: `${url}${PREFIX}`,
        TRUST_PROXY: 'true',
        APP_URL: '/',
        APP_CONTINUE_SECS: '1',
        ...(options.app ?? {}),
      },
      logs,
    );
    stops.push(() => stopChild(tvsignin.child));
    const dir = mkdtempSync(join(tmpdir(), 'tvsignin-nginx-'));
    // nginx started as root runs its worker as nobody, which must reach its buffers here.
    chmodSync(dir, 0o755);
    const tvPort = Number(new URL(tvsignin.appUrl).port);
    const config = nginxConfig(dir, port, tvPort, app.port);
    writeFileSync(join(dir, 'nginx.conf'), config);
    // `timeout` bounds nginx's life and passes SIGTERM (nginx's quick stop: open push streams
    // need not end first) on; its own process group lets a stuck one be killed whole.
    const args = ['-k', '5', String(MAX_SECONDS), NGINX, '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
    const nginx = spawn('timeout', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    nginx.stderr!.on('data', (chunk) => logs.push(`nginx: ${chunk}`));
    stops.push(() => stopChild(nginx, true));
    await waitForNginx(url, nginx, dir);
    return { url, tvsigninDirect: tvsignin.appUrl, issuer: idp.issuer, appRequests, logs, config, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
