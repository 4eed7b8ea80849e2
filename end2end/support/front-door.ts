// tvsignin as the front door of an app, as an operator sets it up, all on 127.0.0.1: a real
// proxy from Debian in front, with tvsignin mounted under /tvsignin/ on the same host, the
// local OpenID provider, and a small upstream app that shows the request headers it received.
// The proxy is nginx (its auth_request module asks tvsignin's /auth before each request to the
// app) or Caddy (README's Caddyfile, which asks /auth first the way forward_auth does). Either
// runs from a generated configuration in a temporary directory (pid, logs, buffers and storage
// there too), in the foreground, and at most MAX_SECONDS.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT, startApp, startIdp } from './stack';

export const PREFIX = '/tvsignin';
const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
const CADDY = process.env.CADDY_BIN ?? '/usr/bin/caddy';
/** However a test run ends, the proxy does not outlive this. */
const MAX_SECONDS = 600;

/** The identity headers tvsignin answers /auth with, and the proxy hands to the app. */
export const IDENTITY_HEADERS = [
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-preferred-username',
  'x-auth-request-groups',
  'x-auth-request-access-token',
  'x-auth-request-jwt',
];

export type ProxyName = 'nginx' | 'caddy';

export interface FrontDoor {
  /** The proxy: the app at `/`, tvsignin under `/tvsignin/`. */
  url: string;
  /** tvsignin itself, bypassing the proxy. */
  tvsigninDirect: string;
  issuer: string;
  /** Every request the app received, oldest first. */
  appRequests: { url: string; headers: IncomingHttpHeaders }[];
  logs: string[];
  /** The proxy's configuration in use (for failure messages). */
  config: string;
  stop(): Promise<void>;
}

export function nginxAvailable(): boolean {
  return spawnSync(NGINX, ['-v'], { stdio: 'ignore' }).status === 0;
}

export function caddyAvailable(): boolean {
  return spawnSync(CADDY, ['version'], { stdio: 'ignore' }).status === 0;
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

/** README's Caddy block, exactly as an operator would copy it. */
export function readmeCaddyfile(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /\n\*\*Caddy\*\*.*(?:\n.+)*\n\n```caddyfile\n([\s\S]*?)\n```\n/.exec(readme);
  if (!block) throw new Error('README.md has no Caddy block (a paragraph starting **Caddy**, then a caddyfile fence)');
  return block[1];
}

/**
 * The Caddyfile: README's block with its host name and ports replaced by the test's (nothing
 * else changes), after global options that keep Caddy to itself: loopback only, no admin
 * endpoint, no certificates, storage and log in `dir`, and a short grace period so open push
 * streams do not hold up its stop.
 */
export function caddyConfig(dir: string, port: number, tvsignin: number, app: number): string {
  let site = readmeCaddyfile();
  const swap = (from: string, to: string) => {
    if (!site.includes(from)) throw new Error(`README's Caddy block no longer has ${from}`);
    site = site.split(from).join(to);
  };
  swap('kiosk.example.com {', `http://127.0.0.1:${port} {`);
  swap('127.0.0.1:3000', `127.0.0.1:${tvsignin}`);
  swap('127.0.0.1:8080', `127.0.0.1:${app}`);
  return `{
	admin off
	default_bind 127.0.0.1
	auto_https off
	grace_period 1s
	storage file_system {
		root ${dir}/data
	}
	log {
		output file ${dir}/caddy.log
	}
}

${site}
`;
}

/** Resolves once the proxy passes a request on to tvsignin; rejects with its log if it exits. */
async function waitForProxy(url: string, proxy: ChildProcess, name: ProxyName, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proxy.exitCode !== null) throw new Error(`${name} exited with ${proxy.exitCode}:\n${log()}`);
    try {
      const response = await fetch(`${url}${PREFIX}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not answer within 10 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const readOr = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

interface Ports {
  port: number;
  tvsignin: number;
  app: number;
}

/** A started proxy: its process (in a process group of its own) and configuration. */
interface RunningProxy {
  child: ChildProcess;
  config: string;
  log: () => string;
}

// `timeout` bounds the proxy's life and passes SIGTERM on (nginx's quick stop; Caddy's stop,
// with its grace period); its own process group lets a stuck one be killed whole.
const bounded = (command: string, args: string[], env?: NodeJS.ProcessEnv) =>
  spawn('timeout', ['-k', '5', String(MAX_SECONDS), command, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env,
  });

function startNginx({ port, tvsignin, app }: Ports): RunningProxy {
  const dir = mkdtempSync(join(tmpdir(), 'tvsignin-nginx-'));
  // nginx started as root runs its worker as nobody, which must reach its buffers here.
  chmodSync(dir, 0o755);
  const config = nginxConfig(dir, port, tvsignin, app);
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child = bounded(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]);
  return { child, config, log: () => readOr(join(dir, 'error.log')) };
}

function startCaddy({ port, tvsignin, app }: Ports): RunningProxy {
  const dir = mkdtempSync(join(tmpdir(), 'tvsignin-caddy-'));
  const config = caddyConfig(dir, port, tvsignin, app);
  writeFileSync(join(dir, 'Caddyfile'), config);
  // Whatever Caddy would keep in the home directory stays in the temporary one.
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') };
  const child = bounded(CADDY, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], env);
  return { child, config, log: () => readOr(join(dir, 'caddy.log')) };
}

export interface FrontDoorOptions {
  /** Extra settings for tvsignin. */
  app?: Record<string, string>;
  /** Environment for the local provider. */
  idp?: Record<string, string>;
  /** The proxy in front (nginx unless said). */
  proxy?: ProxyName;
}

/** The local provider, tvsignin under PREFIX, the app, and the proxy in front of both. */
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
    const name = options.proxy ?? 'nginx';
    const ports = { port, tvsignin: Number(new URL(tvsignin.appUrl).port), app: app.port };
    const proxy = name === 'caddy' ? startCaddy(ports) : startNginx(ports);
    proxy.child.stderr!.on('data', (chunk) => logs.push(`${name}: ${chunk}`));
    stops.push(() => stopChild(proxy.child, true));
    await waitForProxy(url, proxy.child, name, () => `${proxy.log()}${logs.filter((l) => l.startsWith(name)).join('')}`);
    const config = proxy.config;
    return { url, tvsigninDirect: tvsignin.appUrl, issuer: idp.issuer, appRequests, logs, config, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
