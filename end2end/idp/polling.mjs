// Koa middlewares that make the polling side of RFC 8628 testable. oidc-provider sends no
// `interval` and never answers `slow_down` by itself.

const DEFAULT_INTERVAL = 5; // seconds, RFC 8628 section 3.2
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

// Adds `interval` to successful device authorization responses.
export function addInterval(interval) {
  return async function deviceAuthInterval(ctx, next) {
    await next();
    if (
      ctx.method === 'POST' && ctx.path === '/device/auth' && ctx.status === 200
      && ctx.body && typeof ctx.body === 'object' && 'device_code' in ctx.body
    ) {
      ctx.body = { ...ctx.body, interval };
    }
  };
}

async function readRaw(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

// The form of a form-encoded token request, or null. Reads the body once and leaves it in
// `req.body` (oidc-provider falls back to it once the stream is consumed), so several of
// these middlewares can look at one request.
async function tokenForm(ctx) {
  if (ctx.method !== 'POST' || ctx.path !== '/token' || !ctx.is('application/x-www-form-urlencoded')) {
    return null;
  }
  if (!Buffer.isBuffer(ctx.req.body)) {
    // A Buffer, as even an empty one is truthy there. oidc-provider warns once on stderr
    // about an upstream body parser.
    ctx.req.body = await readRaw(ctx.req);
  }
  return new URLSearchParams(ctx.req.body.toString('utf8'));
}

// The device code a token request polls with, or null.
async function polledDeviceCode(ctx) {
  const form = await tokenForm(ctx);
  if (form === null || form.get('grant_type') !== DEVICE_GRANT || !form.get('device_code')) {
    return null;
  }
  return form.get('device_code');
}

// Test switch: holds every device code poll and every refresh for `delayMs` before the
// provider answers it (a slow token endpoint), and counts in `stats` the polls and refreshes,
// those in flight, and the polls that arrived while another poll of the same device code
// was still being answered. A request stays in flight until it is answered, even if its
// client has gone away meanwhile, as at a real provider.
export function watchTokenRequests(delayMs, stats) {
  const inFlight = new Map(); // device_code -> polls being answered
  return async function tokenRequestWatch(ctx, next) {
    const form = await tokenForm(ctx);
    const grant = form?.get('grant_type');
    const deviceCode = grant === DEVICE_GRANT ? form.get('device_code') : null;
    if (!deviceCode && grant !== 'refresh_token') return next();
    if (deviceCode) {
      const before = inFlight.get(deviceCode) ?? 0;
      if (before > 0) stats.overlappingPolls += 1;
      inFlight.set(deviceCode, before + 1);
      stats.polls += 1;
      stats.pollsInFlight += 1;
    } else {
      stats.refreshes += 1;
      stats.refreshesInFlight += 1;
    }
    try {
      if (delayMs > 0) await new Promise((resolve) => { setTimeout(resolve, delayMs); });
      return await next();
    } finally {
      if (deviceCode) {
        stats.pollsInFlight -= 1;
        const left = inFlight.get(deviceCode) - 1;
        if (left > 0) inFlight.set(deviceCode, left);
        else inFlight.delete(deviceCode);
      } else {
        stats.refreshesInFlight -= 1;
      }
    }
  };
}

// Answers `slow_down` when a device code is polled again sooner than `interval` seconds
// after its previous poll; the too-fast request never reaches the provider (so it cannot,
// for example, redeem the code).
export function slowDown(interval = DEFAULT_INTERVAL, stats = { slowDowns: 0 }) {
  const lastPoll = new Map(); // device_code -> ms timestamp of its previous poll

  return async function tokenSlowDown(ctx, next) {
    const deviceCode = await polledDeviceCode(ctx);
    if (deviceCode === null) return next();

    const now = Date.now();
    const previous = lastPoll.get(deviceCode);
    lastPoll.set(deviceCode, now);
    if (previous !== undefined && now - previous < interval * 1000) {
      stats.slowDowns += 1;
      ctx.status = 400;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        error: 'slow_down',
        error_description: `polled again within ${interval} seconds; increase the interval by 5 seconds`,
      };
      return undefined;
    }
    return next();
  };
}
