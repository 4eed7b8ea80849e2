// The resource owner password credentials grant (RFC 6749 section 4.3). oidc-provider has
// none built in; this one issues tokens the way its built-in grants do, so userinfo,
// refresh and revocation treat them alike.
import { errors } from 'oidc-provider';

import { checkPassword, findAccount } from './accounts.mjs';

export const PASSWORD_GRANT_PARAMS = ['username', 'password', 'scope'];

// Several real providers use this exact wording; tests may match on it.
const BAD_CREDENTIALS = 'The user name or password is invalid.';

export function passwordGrant(provider, supportedScopes) {
  const known = new Set(supportedScopes);

  return async function passwordGrantHandler(ctx) {
    const { client, params } = ctx.oidc;
    const missing = ['username', 'password'].filter((name) => !params[name]);
    if (missing.length) {
      throw new errors.InvalidRequest(`missing required parameter(s) (${missing.join(',')})`);
    }

    const requested = [...new Set(String(params.scope || 'openid').split(' ').filter(Boolean))];
    const unknown = requested.filter((scope) => !known.has(scope));
    if (unknown.length) {
      throw new errors.InvalidScope(`requested scope is not supported: ${unknown.join(' ')}`, unknown.join(' '));
    }

    const accountId = checkPassword(params.username, params.password);
    if (!accountId) {
      // InvalidGrant's own description is fixed ("grant request is invalid"): replace it.
      throw Object.assign(new errors.InvalidGrant(), { error_description: BAD_CREDENTIALS });
    }
    const account = await findAccount(ctx, accountId);
    ctx.oidc.entity('Account', account);

    const scope = requested.join(' ');
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope(scope);
    const grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);

    const authTime = Math.floor(Date.now() / 1000);
    const at = new provider.AccessToken({
      accountId, client, grantId, gty: 'password', scope: grant.getOIDCScopeFiltered(requested),
    });
    ctx.oidc.entity('AccessToken', at);
    const body = {
      access_token: await at.save(),
      expires_in: at.expiration,
      token_type: at.tokenType,
      scope: at.scope,
    };

    if (client.grantTypeAllowed('refresh_token')) {
      const rt = new provider.RefreshToken({
        accountId, authTime, client, grantId, gty: 'password', rotations: 0, scope,
      });
      ctx.oidc.entity('RefreshToken', rt);
      body.refresh_token = await rt.save();
    }

    if (requested.includes('openid')) {
      const idToken = new provider.IdToken({
        ...await account.claims('id_token', scope, {}, []),
        auth_time: authTime,
      }, { ctx });
      // Like the built-in grants with conformIdTokenClaims: the ID token carries `sub`,
      // everything else comes from userinfo.
      idToken.scope = 'openid';
      idToken.mask = {};
      idToken.rejected = [];
      body.id_token = await idToken.issue({ use: 'idtoken' });
    }

    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  };
}
