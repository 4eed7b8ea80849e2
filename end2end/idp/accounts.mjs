// The test users of the local OpenID provider. Passwords are checked for real, so a
// test can tell a wrong-password path from a successful one.
import { timingSafeEqual } from 'node:crypto';

const USERS = {
  alice: {
    password: 'wonderland',
    claims: {
      sub: 'alice',
      name: 'Alice Liddell',
      given_name: 'Alice',
      family_name: 'Liddell',
      preferred_username: 'alice',
      email: 'alice@example.test',
      email_verified: true,
      // A nested, non-standard claim, released with the `profile` scope (see `claims` in
      // server.mjs): clients that map tenants from custom claims need something to read.
      ext: { tenantId: 'wonderland-tenant' },
      // Released only with the `phone` and `address` scopes: what a TV, a shared screen,
      // must not show unless SHOW_CLAIMS names it.
      phone_number: '+44 20 7946 0958',
      phone_number_verified: true,
      address: {
        street_address: '7 Rabbit Hole Lane',
        locality: 'Oxford',
        postal_code: 'OX1 4AU',
        country: 'GB',
      },
      // Released only with the `groups` scope (what an app behind the TV's front door
      // authorises by). Bob has none.
      groups: ['staff', 'kiosk-admins'],
    },
  },
  bob: {
    password: 'builder',
    claims: {
      sub: 'bob',
      name: 'Bob Builder',
      preferred_username: 'bob',
      email: 'bob@example.test',
      ext: { tenantId: 'builder-tenant' },
    },
  },
};

function sameText(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

// Returns the account id when username and password match, otherwise undefined.
export function checkPassword(username, password) {
  const user = Object.hasOwn(USERS, username) ? USERS[username] : undefined;
  if (user && sameText(user.password, password ?? '')) return user.claims.sub;
  return undefined;
}

// oidc-provider's `findAccount`: the provider filters these claims by scope itself.
export async function findAccount(_ctx, sub) {
  const user = Object.hasOwn(USERS, sub) ? USERS[sub] : undefined;
  if (!user) return undefined;
  return {
    accountId: sub,
    async claims() {
      return structuredClone(user.claims);
    },
  };
}
