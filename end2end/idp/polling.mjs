// Koa middlewares that make the polling side of RFC 8628 testable. oidc-provider sends no
// `interval` and never answers `slow_down` by itself.

const DEFAULT_INTERVAL = 5; // seconds, RFC 8628 section 3.2

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

// Answers `slow_down` when a device code is polled again sooner than `interval` seconds
// after its previous poll; the too-fast request never reaches the provider (so it cannot,
// for example, redeem the code).
export function slowDown(interval = DEFAULT_INTERVAL, stats = { slowDowns: 0 }) {
  const lastPoll = new Map(); // device_code -> ms timestamp of its previous poll

  return async function tokenSlowDown(ctx, next) {
    if (ctx.method !== 'POST' || ctx.path !== '/token' || !ctx.is('application/x-www-form-urlencoded')) {
      return next();
    }
    const raw = await readRaw(ctx.req);
    // The stream is consumed: oidc-provider falls back to `req.body` when the stream is
    // no longer readable (it warns once on stderr about an upstream body parser).
    // A Buffer, as even an empty one is truthy there.
    ctx.req.body = raw;

    const params = new URLSearchParams(raw.toString('utf8'));
    const deviceCode = params.get('device_code');
    if (params.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:device_code' || !deviceCode) {
      return next();
    }

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
