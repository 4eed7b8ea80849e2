// A real OpenID provider (npm `oidc-provider`) on loopback, for tvsignin's end-to-end tests.
//
// Environment:
//   IDP_PORT              port on 127.0.0.1; 0 (default) picks a free one
//   IDP_DEVICE_CODE_TTL   device code lifetime in seconds (default 600)
//   IDP_ACCESS_TOKEN_TTL  access token lifetime in seconds (default 3600)
//   IDP_INTERVAL          when set, `interval` (seconds) added to device authorization responses
//   IDP_SLOW_DOWN=1       answer `slow_down` to device codes polled faster than the interval
//   IDP_SLOW_DOWN_GAP     the gap slow_down enforces (default: IDP_INTERVAL, else 5 s)
//   IDP_TOKEN_DELAY_MS    hold every device code poll and refresh this long before answering (default 0)
//
// Once listening it prints exactly one line to stdout, {"issuer":"http://127.0.0.1:<port>"},
// and runs until SIGTERM or SIGINT. Everything else goes to stderr.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

import { findAccount } from './accounts.mjs';
import { interactionRoutes } from './interactions.mjs';
import * as pages from './pages.mjs';
import { PASSWORD_GRANT_PARAMS, passwordGrant } from './password-grant.mjs';
import { addInterval, slowDown, watchTokenRequests } from './polling.mjs';

// stdout carries only the ready line, which a parent process parses; oidc-provider prints
// its notices with console.info, so those go to stderr.
console.info = console.error;
console.log = console.error;

function envSeconds(name, fallback, { min = 0 } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    console.error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const PORT = envSeconds('IDP_PORT', 0);
const DEVICE_CODE_TTL = envSeconds('IDP_DEVICE_CODE_TTL', 600, { min: 1 });
const ACCESS_TOKEN_TTL = envSeconds('IDP_ACCESS_TOKEN_TTL', 3600, { min: 1 });
const INTERVAL = envSeconds('IDP_INTERVAL', undefined, { min: 1 });
const SLOW_DOWN = process.env.IDP_SLOW_DOWN === '1';
// The gap slow_down enforces; larger than IDP_INTERVAL makes a client that obeys the
// advertised interval meet slow_down for real.
const SLOW_DOWN_GAP = envSeconds('IDP_SLOW_DOWN_GAP', INTERVAL, { min: 1 });
// A slow token endpoint, for tests of what overlaps with a poll or refresh in flight. Off
// by default.
const TOKEN_DELAY_MS = envSeconds('IDP_TOKEN_DELAY_MS', 0);

const SCOPES = ['openid', 'profile', 'email', 'phone', 'address', 'groups', 'offline_access'];
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const GRANT_TYPES = [DEVICE_GRANT, 'refresh_token', 'password'];

const CLIENTS = [
  { client_id: 'tv-public', token_endpoint_auth_method: 'none' },
  { client_id: 'tv-basic', client_secret: 'basic-secret', token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'tv-post', client_secret: 'post-secret', token_endpoint_auth_method: 'client_secret_post' },
].map((client) => ({ ...client, grant_types: GRANT_TYPES, redirect_uris: [], response_types: [] }));

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function configuration() {
  return {
    clients: CLIENTS,
    findAccount,
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'ext'],
      email: ['email', 'email_verified'],
      phone: ['phone_number', 'phone_number_verified'],
      address: ['address'],
      groups: ['groups'],
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: pages.userCodeInputSource,
        userCodeConfirmSource: pages.userCodeConfirmSource,
        successSource: pages.successSource,
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => client.clientAuthMethod !== 'none'
          || token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: pages.logoutSource,
        postLogoutSuccessSource: pages.postLogoutSuccessSource,
      },
    },
    renderError: pages.renderError,
    // The kiosk talks to the provider from its server, never from a browser.
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      DeviceCode: DEVICE_CODE_TTL,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      ClientCredentials: 600,
      BackchannelAuthenticationRequest: 600,
      PreAuthorizedCode: 600,
    },
    // Refresh tokens without `offline_access`, so a TV can refresh whatever it asked for.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // The TV's tokens must not die with the phone browser's session cookie.
    expiresWithSession: async () => false,
  };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

// The issuer contains the port, so the port is bound before the provider exists.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
// Node's own idle limit (5 s) is kept on purpose: it is as short as real providers get, and a
// client polling every few seconds races its close. The server must ride that out.
const port = await listen(server, PORT);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, configuration());
provider.registerGrantType('password', passwordGrant(provider, SCOPES), PASSWORD_GRANT_PARAMS);
provider.use(interactionRoutes(provider));
if (INTERVAL !== undefined) provider.use(addInterval(INTERVAL));
const stats = {
  slowDowns: 0, polls: 0, pollsInFlight: 0, overlappingPolls: 0, refreshes: 0, refreshesInFlight: 0,
};
// First, so a poll counts as in flight from the moment it arrives, slow_down or not.
provider.use(watchTokenRequests(TOKEN_DELAY_MS, stats));
if (SLOW_DOWN) provider.use(slowDown(SLOW_DOWN_GAP, stats));
// Test hook: the last access token issued to each account, so an end-to-end test can prove
// that the TV's sign-out revoked it (the TV's browser never sees the token). Loopback only.
const lastAccessToken = new Map();
// ...and every grant an account holds, so a test can revoke them as an administrator would.
const grantsOf = new Map();
provider.on('access_token.saved', (token) => {
  lastAccessToken.set(token.accountId, token.jti);
  if (!grantsOf.has(token.accountId)) grantsOf.set(token.accountId, new Set());
  grantsOf.get(token.accountId).add(token.grantId);
});
// ...and the last refresh token, so a test can prove it is not kept in clear text.
const lastRefreshToken = new Map();
provider.on('refresh_token.saved', (token) => lastRefreshToken.set(token.accountId, token.jti));
// ...and the device code behind each user code, so a test can prove it never reached the TV.
const deviceCodes = new Map();
const normalise = (userCode) => String(userCode).toUpperCase().replace(/[^A-Z0-9]/g, '');
provider.on('device_code.saved', (code) => deviceCodes.set(normalise(code.userCode), code.jti));
provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/last-access-token') {
    ctx.body = { access_token: lastAccessToken.get(String(ctx.query.sub)) ?? null };
  } else if (ctx.path === '/__test/last-refresh-token') {
    ctx.body = { refresh_token: lastRefreshToken.get(String(ctx.query.sub)) ?? null };
  } else if (ctx.path === '/__test/device-code') {
    ctx.body = { device_code: deviceCodes.get(normalise(ctx.query.user_code)) ?? null };
  } else if (ctx.path === '/__test/revoke-grants' && ctx.method === 'POST') {
    // An administrator ends everything the account granted: its grants and their tokens.
    const sub = String(ctx.query.sub);
    const grants = [...(grantsOf.get(sub) ?? [])];
    for (const grantId of grants) {
      await provider.AccessToken.revokeByGrantId(grantId);
      await provider.RefreshToken.revokeByGrantId(grantId);
      await provider.Grant.adapter.destroy(grantId);
    }
    grantsOf.delete(sub);
    ctx.body = { revoked: grants.length };
  } else if (ctx.path === '/__test/stats') {
    ctx.body = {
      slow_downs: stats.slowDowns,
      polls: stats.polls,
      polls_in_flight: stats.pollsInFlight,
      overlapping_polls: stats.overlappingPolls,
      refreshes: stats.refreshes,
      refreshes_in_flight: stats.refreshesInFlight,
    };
  } else {
    return next();
  }
  return undefined;
});
// Unexpected errors only; expected OAuth errors are answered to the client and stay quiet.
provider.on('server_error', (_ctx, err) => console.error('idp server_error:', err));

handler = provider.callback();
process.stdout.write(`${JSON.stringify({ issuer })}\n`);

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
