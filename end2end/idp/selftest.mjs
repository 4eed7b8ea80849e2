#!/usr/bin/env node
// End-to-end check of the local OpenID provider and the scripted phone, with plain fetch on
// 127.0.0.1. Starts its own servers, prints one line per check, exits non-zero on a failure.
// Usage: node selftest.mjs
import { spawn } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const OVERALL_TIMEOUT_MS = 60_000;
const SCOPE = 'openid profile email';

const children = new Set();
let passed = 0;
let failed = 0;

const overall = setTimeout(() => {
  console.log(`FAIL - selftest did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL - ${name}: ${err.message}`);
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
const show = (value) => JSON.stringify(value);

// --- child processes ----------------------------------------------------------------------

function track(child) {
  children.add(child);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => { children.delete(child); resolve({ code, signal }); });
  });
  return exited;
}

// Starts server.mjs with extra env; resolves once it printed its ready line.
async function startServer(env) {
  const child = spawn(process.execPath, [`${HERE}server.mjs`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = track(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const lines = createInterface({ input: child.stdout });
  const extraStdout = [];
  let first = true;
  const ready = new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      if (first) { first = false; resolve(line); } else extraStdout.push(line);
    });
    exited.then(({ code }) => reject(new Error(`server exited (${code}) before ready: ${stderr}`)));
    setTimeout(() => reject(new Error('server not ready within 10 s')), 10_000).unref();
  });
  const line = await ready;
  const { issuer } = JSON.parse(line);
  return {
    issuer,
    line,
    extraStdout,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function runPhone(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${HERE}phone.mjs`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    exited.then(({ code }) => {
      clearTimeout(timer);
      resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

// --- HTTP helpers -------------------------------------------------------------------------

const CLIENTS = {
  'tv-public': {},
  'tv-basic': { basic: 'basic-secret' },
  'tv-post': { post: 'post-secret' },
};

// POSTs a form as `clientId`, authenticating the way that client is registered.
async function post(url, clientId, form, secrets = CLIENTS[clientId]) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(form);
  if (secrets.basic !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${clientId}:${secrets.basic}`).toString('base64')}`;
  } else {
    body.set('client_id', clientId);
    if (secrets.post !== undefined) body.set('client_secret', secrets.post);
  }
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function getJson(url, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, json };
}

function expectError(res, status, error) {
  expect(res.status === status && res.json?.error === error,
    `expected ${status} ${error}, got ${res.status} ${show(res.json)}`);
}

async function startDevice(meta, clientId, scope = SCOPE) {
  const res = await post(meta.device_authorization_endpoint, clientId, { scope });
  expect(res.status === 200, `device auth as ${clientId}: ${res.status} ${show(res.json)}`);
  return res.json;
}

const poll = (meta, clientId, deviceCode) => post(meta.token_endpoint, clientId, {
  grant_type: DEVICE_GRANT, device_code: deviceCode,
});

function decodeJwt(jwt) {
  const [header, payload] = jwt.split('.').slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload };
}

async function verifyJwt(meta, jwt) {
  const { header, payload } = decodeJwt(jwt);
  const { json: jwks } = await getJson(meta.jwks_uri);
  const jwk = jwks.keys.find((key) => key.kid === header.kid);
  expect(header.alg === 'RS256' && jwk, `no RS256 key ${header.kid} in ${show(jwks)}`);
  const [h, p, s] = jwt.split('.');
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
  expect(ok, 'ID token signature does not verify');
  return payload;
}

// --- the checks ---------------------------------------------------------------------------

async function main() {
  const [primary, fast, short] = await Promise.all([
    startServer({ IDP_DEVICE_CODE_TTL: '60' }),
    startServer({ IDP_INTERVAL: '2', IDP_SLOW_DOWN: '1' }),
    startServer({ IDP_DEVICE_CODE_TTL: '2' }),
  ]);
  const servers = [primary, fast, short];

  try {
    await check('ready line is {"issuer":"http://127.0.0.1:<port>"}', () => {
      for (const s of servers) expect(/^\{"issuer":"http:\/\/127\.0\.0\.1:\d+"\}$/.test(s.line), s.line);
    });

    const { json: meta } = await getJson(`${primary.issuer}/.well-known/openid-configuration`);
    await check('discovery lists device, revocation, userinfo endpoints and the password grant', () => {
      expect(meta.issuer === primary.issuer, `issuer ${meta.issuer}`);
      for (const key of ['device_authorization_endpoint', 'revocation_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri']) {
        expect(typeof meta[key] === 'string' && meta[key].startsWith(primary.issuer), `${key}: ${meta[key]}`);
      }
      for (const grant of ['password', DEVICE_GRANT, 'refresh_token']) {
        expect(meta.grant_types_supported.includes(grant), `grant_types_supported lacks ${grant}`);
      }
    });

    const devices = {};
    for (const clientId of Object.keys(CLIENTS)) {
      await check(`device authorization as ${clientId}`, async () => {
        const d = await startDevice(meta, clientId);
        expect(d.device_code && /^[A-Z]{4}-[A-Z]{4}$/.test(d.user_code), show(d));
        expect(d.verification_uri === `${primary.issuer}/device`, d.verification_uri);
        expect(d.verification_uri_complete === `${primary.issuer}/device?user_code=${d.user_code}`, d.verification_uri_complete);
        expect(d.expires_in === 60 && d.interval === undefined, `expires_in ${d.expires_in}, interval ${d.interval}`);
        devices[clientId] = d;
      });
    }

    await check('device authorization with a wrong secret is invalid_client', async () => {
      expectError(await post(meta.device_authorization_endpoint, 'tv-basic', { scope: SCOPE }, { basic: 'nope' }), 401, 'invalid_client');
    });

    await check('polling before the phone acts is authorization_pending', async () => {
      for (const clientId of Object.keys(CLIENTS)) {
        expectError(await poll(meta, clientId, devices[clientId].device_code), 400, 'authorization_pending');
      }
    });

    // tv-basic: alice allows, phone opens verification_uri_complete.
    let tokens;
    await check('phone allow (verification_uri_complete) then poll gives tokens', async () => {
      const d = devices['tv-basic'];
      const phone = await runPhone([d.verification_uri_complete, d.user_code, 'alice', 'wonderland', 'allow']);
      expect(phone.code === 0 && /Sign-in Success/.test(phone.stdout), show(phone));
      const res = await poll(meta, 'tv-basic', d.device_code);
      expect(res.status === 200, `${res.status} ${show(res.json)}`);
      tokens = res.json;
      expect(tokens.access_token && tokens.refresh_token && tokens.id_token, show(tokens));
      expect(tokens.token_type === 'Bearer', tokens.token_type);
    });

    await check('ID token is RS256-signed for tv-basic with sub alice', async () => {
      const payload = await verifyJwt(meta, tokens.id_token);
      expect(payload.sub === 'alice' && payload.aud === 'tv-basic' && payload.iss === primary.issuer, show(payload));
    });

    await check("userinfo returns alice's claims including ext.tenantId", async () => {
      const { status, json } = await getJson(meta.userinfo_endpoint, tokens.access_token);
      expect(status === 200, `${status} ${show(json)}`);
      const want = {
        sub: 'alice', name: 'Alice Liddell', given_name: 'Alice', family_name: 'Liddell',
        preferred_username: 'alice', email: 'alice@example.test', email_verified: true,
      };
      for (const [k, v] of Object.entries(want)) expect(json[k] === v, `${k}: ${show(json[k])}`);
      expect(json.ext?.tenantId === 'wonderland-tenant', `ext: ${show(json.ext)}`);
    });

    await check('introspection reports the access token active for alice', async () => {
      const res = await post(meta.introspection_endpoint, 'tv-basic', { token: tokens.access_token });
      expect(res.status === 200 && res.json.active === true && res.json.sub === 'alice', `${res.status} ${show(res.json)}`);
    });

    let refreshed;
    await check('refresh grant gives a new working access token', async () => {
      const res = await post(meta.token_endpoint, 'tv-basic', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      expect(res.status === 200 && res.json.access_token && res.json.access_token !== tokens.access_token, `${res.status} ${show(res.json)}`);
      refreshed = res.json;
      const { status, json } = await getJson(meta.userinfo_endpoint, refreshed.access_token);
      expect(status === 200 && json.sub === 'alice', `${status} ${show(json)}`);
    });

    await check('revoking the access token makes userinfo answer 401', async () => {
      const res = await post(meta.revocation_endpoint, 'tv-basic', { token: refreshed.access_token, token_type_hint: 'access_token' });
      expect(res.status === 200, `revocation: ${res.status} ${show(res.json)}`);
      const { status } = await getJson(meta.userinfo_endpoint, refreshed.access_token);
      expect(status === 401, `userinfo after revocation: ${status}`);
    });

    // tv-public: bob allows, phone opens the plain verification_uri and types the code.
    await check('phone allow (verification_uri + code) for tv-public as bob', async () => {
      const d = devices['tv-public'];
      const phone = await runPhone([d.verification_uri, d.user_code, 'bob', 'builder', 'allow']);
      expect(phone.code === 0, show(phone));
      const res = await poll(meta, 'tv-public', d.device_code);
      expect(res.status === 200 && res.json.refresh_token, `${res.status} ${show(res.json)}`);
      const { json } = await getJson(meta.userinfo_endpoint, res.json.access_token);
      expect(json.sub === 'bob' && json.ext?.tenantId === 'builder-tenant', show(json));
    });

    // tv-post: bob denies.
    await check('phone deny then poll is access_denied', async () => {
      const d = devices['tv-post'];
      const phone = await runPhone([d.verification_uri, d.user_code, 'bob', 'builder', 'deny']);
      expect(phone.code === 0 && /denied/.test(phone.stdout), show(phone));
      expectError(await poll(meta, 'tv-post', d.device_code), 400, 'access_denied');
    });

    await check('phone with a wrong password exits 3', async () => {
      const d = await startDevice(meta, 'tv-public');
      const phone = await runPhone([d.verification_uri_complete, d.user_code, 'alice', 'wrong', 'allow']);
      expect(phone.code === 3 && /Invalid username or password/.test(phone.stderr), show(phone));
    });

    await check('phone with an unknown user code exits 4', async () => {
      const phone = await runPhone([`${primary.issuer}/device`, 'BCDF-GHJK', 'alice', 'wonderland', 'allow']);
      expect(phone.code === 4 && /incorrect/.test(phone.stderr), show(phone));
    });

    await check('phone cancel then poll is access_denied', async () => {
      const d = await startDevice(meta, 'tv-public');
      const phone = await runPhone([d.verification_uri_complete, d.user_code, 'alice', 'wonderland', 'cancel']);
      expect(phone.code === 0 && /cancelled/.test(phone.stdout), show(phone));
      expectError(await poll(meta, 'tv-public', d.device_code), 400, 'access_denied');
    });

    await check('password grant for alice gives tokens', async () => {
      const res = await post(meta.token_endpoint, 'tv-post', {
        grant_type: 'password', username: 'alice', password: 'wonderland', scope: SCOPE,
      });
      expect(res.status === 200 && res.json.access_token && res.json.refresh_token && res.json.id_token, `${res.status} ${show(res.json)}`);
      expect((await verifyJwt(meta, res.json.id_token)).sub === 'alice', 'id_token sub');
      const hooks = await Promise.all(['access', 'refresh'].map(async (kind) => (
        await getJson(`${primary.issuer}/__test/last-${kind}-token?sub=alice`)).json));
      expect(hooks[0].access_token === res.json.access_token, `access token hook: ${show(hooks[0])}`);
      expect(hooks[1].refresh_token === res.json.refresh_token, `refresh token hook: ${show(hooks[1])}`);
      const { json } = await getJson(meta.userinfo_endpoint, res.json.access_token);
      expect(json.sub === 'alice' && json.ext?.tenantId === 'wonderland-tenant', show(json));
      const again = await post(meta.token_endpoint, 'tv-post', { grant_type: 'refresh_token', refresh_token: res.json.refresh_token });
      expect(again.status === 200 && again.json.access_token, `refresh: ${again.status} ${show(again.json)}`);
    });

    await check('phone and address claims come only with their scopes', async () => {
      const userinfo = async (scope) => {
        const res = await post(meta.token_endpoint, 'tv-public', {
          grant_type: 'password', username: 'alice', password: 'wonderland', scope,
        });
        expect(res.status === 200, `${scope}: ${res.status} ${show(res.json)}`);
        return (await getJson(meta.userinfo_endpoint, res.json.access_token)).json;
      };
      const plain = await userinfo(SCOPE);
      expect(plain.phone_number === undefined && plain.address === undefined, show(plain));
      const all = await userinfo(`${SCOPE} phone address`);
      expect(all.phone_number === '+44 20 7946 0958' && all.address?.locality === 'Oxford', show(all));
    });

    await check('groups come with the groups scope; revoke-grants ends the grant and its tokens', async () => {
      const res = await post(meta.token_endpoint, 'tv-public', {
        grant_type: 'password', username: 'alice', password: 'wonderland', scope: `${SCOPE} groups`,
      });
      expect(res.status === 200, `${res.status} ${show(res.json)}`);
      const info = await getJson(meta.userinfo_endpoint, res.json.access_token);
      expect(show(info.json.groups) === show(['staff', 'kiosk-admins']), show(info.json));
      const revoked = await fetch(`${primary.issuer}/__test/revoke-grants?sub=alice`, { method: 'POST' });
      expect(revoked.ok && (await revoked.json()).revoked > 0, `revoke-grants: ${revoked.status}`);
      expect((await getJson(meta.userinfo_endpoint, res.json.access_token)).status === 401, 'userinfo after revoke-grants');
      expectError(await post(meta.token_endpoint, 'tv-public', { grant_type: 'refresh_token', refresh_token: res.json.refresh_token }), 400, 'invalid_grant');
    });

    await check('password grant with a wrong password is invalid_grant with the exact description', async () => {
      const res = await post(meta.token_endpoint, 'tv-basic', { grant_type: 'password', username: 'alice', password: 'nope', scope: SCOPE });
      expectError(res, 400, 'invalid_grant');
      expect(res.json.error_description === 'The user name or password is invalid.', res.json.error_description);
    });

    await check('password grant with a bad client secret is invalid_client', async () => {
      expectError(await post(meta.token_endpoint, 'tv-basic', {
        grant_type: 'password', username: 'alice', password: 'wonderland', scope: SCOPE,
      }, { basic: 'wrong' }), 401, 'invalid_client');
      expectError(await post(meta.token_endpoint, 'tv-post', {
        grant_type: 'password', username: 'alice', password: 'wonderland', scope: SCOPE,
      }, { post: 'wrong' }), 401, 'invalid_client');
    });

    await check('password grant with an unknown scope is invalid_scope', async () => {
      expectError(await post(meta.token_endpoint, 'tv-public', {
        grant_type: 'password', username: 'alice', password: 'wonderland', scope: 'openid launch-missiles',
      }), 400, 'invalid_scope');
    });

    // IDP_INTERVAL=2 + IDP_SLOW_DOWN=1
    const { json: fastMeta } = await getJson(`${fast.issuer}/.well-known/openid-configuration`);
    await check('IDP_INTERVAL=2 puts interval 2 in the device authorization response', async () => {
      const d = await startDevice(fastMeta, 'tv-public');
      expect(d.interval === 2, show(d));
      fast.device = d;
    });

    await check('IDP_SLOW_DOWN=1: a fast second poll is slow_down, a poll after the interval is pending', async () => {
      const { device_code: code } = fast.device;
      expectError(await poll(fastMeta, 'tv-public', code), 400, 'authorization_pending');
      expectError(await poll(fastMeta, 'tv-public', code), 400, 'slow_down');
      await sleep(2200);
      expectError(await poll(fastMeta, 'tv-public', code), 400, 'authorization_pending');
    });

    // IDP_DEVICE_CODE_TTL=2
    const { json: shortMeta } = await getJson(`${short.issuer}/.well-known/openid-configuration`);
    await check('IDP_DEVICE_CODE_TTL=2: expires_in 2, then expired_token', async () => {
      const d = await startDevice(shortMeta, 'tv-post');
      expect(d.expires_in === 2, show(d));
      expectError(await poll(shortMeta, 'tv-post', d.device_code), 400, 'authorization_pending');
      await sleep(2600);
      expectError(await poll(shortMeta, 'tv-post', d.device_code), 400, 'expired_token');
    });
  } finally {
    const exits = await Promise.all(servers.map((s) => s.stop()));
    await check('servers printed nothing else on stdout and exit 0 on SIGTERM', () => {
      for (const s of servers) expect(s.extraStdout.length === 0, `extra stdout: ${show(s.extraStdout)}`);
      for (const e of exits) expect(e.code === 0, `exit ${show(e)}`);
    });
  }
}

try {
  await main();
} catch (err) {
  failed += 1;
  console.log(`FAIL - selftest crashed: ${err.stack || err}`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  clearTimeout(overall);
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
