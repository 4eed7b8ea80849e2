// The provider's own login and consent pages (devInteractions is off: its built-in login
// accepts any password, which would hide wrong-password bugs).
//
//   GET  /interaction/:uid          login form, or consent form once signed in
//   POST /interaction/:uid/login    username + password -> back to oidc-provider
//   POST /interaction/:uid/consent  decision=allow|deny  -> back to oidc-provider
import { checkPassword } from './accounts.mjs';
import { consentPage, errorPage, loginPage } from './pages.mjs';

const ROUTE = /^\/interaction\/([\w-]+)(?:\/(login|consent))?$/;
const FORM_LIMIT = 16 * 1024;

async function readForm(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > FORM_LIMIT) throw new Error('form too large');
  }
  return Object.fromEntries(new URLSearchParams(text));
}

function html(ctx, body, status = 200) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

export function interactionRoutes(provider) {
  // Hands the result back to oidc-provider, which resumes the device flow at the URL it
  // returns (a 303, so the browser follows it with GET).
  async function finish(ctx, result, mergeWithLastSubmission) {
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission });
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(to);
  }

  async function show(ctx, details) {
    const client = await provider.Client.find(details.params.client_id);
    const clientName = client?.clientName || details.params.client_id;
    if (details.prompt.name === 'login') {
      return html(ctx, loginPage({ uid: details.uid, clientName }));
    }
    if (details.prompt.name === 'consent') {
      const scopes = String(details.params.scope || '').split(' ').filter(Boolean);
      return html(ctx, consentPage({
        uid: details.uid, clientName, username: details.session?.accountId, scopes,
      }));
    }
    return html(ctx, errorPage('Something went wrong', `Unknown prompt ${details.prompt.name}`), 400);
  }

  async function login(ctx, details) {
    if (details.prompt.name !== 'login') return show(ctx, details);
    const { username = '', password = '' } = await readForm(ctx.req);
    const accountId = checkPassword(username, password);
    if (!accountId) {
      const client = await provider.Client.find(details.params.client_id);
      return html(ctx, loginPage({
        uid: details.uid,
        clientName: client?.clientName || details.params.client_id,
        username,
        error: 'Invalid username or password',
      }));
    }
    return finish(ctx, { login: { accountId } }, false);
  }

  async function consent(ctx, details) {
    if (details.prompt.name !== 'consent') return show(ctx, details);
    const { decision } = await readForm(ctx.req);
    if (decision !== 'allow') {
      // oidc-provider marks the device code access_denied; the TV's next poll gets it.
      return finish(ctx, {
        error: 'access_denied',
        error_description: 'End-User denied the sign-in request',
      }, false);
    }

    const { prompt: { details: missing }, params, session: { accountId } } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return finish(ctx, { consent: { grantId } }, true);
  }

  return async function interactions(ctx, next) {
    const match = ROUTE.exec(ctx.path);
    if (!match) return next();
    const [, , action] = match;
    const allowed = action ? 'POST' : 'GET';
    if (ctx.method !== allowed) return html(ctx, errorPage('Method not allowed', ctx.method), 405);

    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      // Typically an expired interaction or a missing/foreign cookie.
      return html(ctx, errorPage('Sign-in session expired', err.error_description || err.message), 400);
    }
    if (details.uid !== match[1]) {
      return html(ctx, errorPage('Sign-in session expired', 'interaction does not match'), 400);
    }
    if (!action) return show(ctx, details);
    return action === 'login' ? login(ctx, details) : consent(ctx, details);
  };
}
