// Plain HTML pages of the local OpenID provider. oidc-provider's own default pages pull a
// web font from the internet; these load nothing, so a test browser stays on loopback.

export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;padding:1.5rem;background:#f4f4f4}
main{max-width:22rem;margin:0 auto;background:#fff;padding:1rem 1.5rem;border-radius:6px}
h1{font-size:1.5rem}
label{display:block;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.5rem}
button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.75rem .5rem 0 0}
.error{color:#b00020;font-weight:600}
code{font-size:1.6rem;letter-spacing:.1em}
`;

export function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>
<h1>${esc(title)}</h1>
${body}
</main></body>
</html>`;
}

export function loginPage({ uid, clientName, username = '', error }) {
  return page('Sign in', `
<p>to continue to <strong>${esc(clientName)}</strong></p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <label for="username">Username</label>
  <input type="text" id="username" name="username" value="${esc(username)}" autofocus required>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" required>
  <button type="submit">Sign in</button>
</form>`);
}

export function consentPage({ uid, clientName, username, scopes }) {
  const items = scopes.map((s) => `<li>${esc(s)}</li>`).join('');
  return page('Allow access?', `
<p><strong>${esc(clientName)}</strong> wants to sign in as <strong>${esc(username)}</strong> and use:</p>
<ul>${items}</ul>
<form method="post" action="/interaction/${esc(uid)}/consent">
  <button type="submit" name="decision" value="allow">Allow</button>
  <button type="submit" name="decision" value="deny">Deny</button>
</form>`);
}

export function errorPage(title, message) {
  return page(title, `<p class="error" role="alert">${esc(message)}</p>`);
}

// --- oidc-provider's device flow pages (features.deviceFlow.*Source) ---------------------
// `form` is oidc-provider's own <form> (with its hidden `xsrf` field bound to the session
// cookie); the buttons refer to it through their `form` attribute.

function codeErrorMessage(err) {
  switch (err?.name) {
    case undefined: return undefined;
    case 'NoCodeError':
    case 'NotFoundError': return 'The code you entered is incorrect. Try again.';
    case 'ExpiredError': return 'The code has expired. Start again on your TV.';
    case 'AlreadyUsedError': return 'The code has already been used.';
    default: return 'There was an error processing your request.';
  }
}

export async function userCodeInputSource(ctx, form, out, err) {
  ctx.type = 'html';
  // oidc-provider ends both a Deny at consent (the AccessDenied is the cause) and a Cancel
  // at confirmation here, as an AbortedError.
  if (err?.name === 'AbortedError') {
    const denied = err.cause?.error === 'access_denied';
    ctx.body = page(denied ? 'Sign-in denied' : 'Sign-in cancelled', `
<p class="error" role="alert">${denied ? 'You denied the sign-in request.' : 'The sign-in request was cancelled.'}</p>
<p>You can close this page.</p>`);
    return;
  }
  const message = codeErrorMessage(err);
  const detail = message && out?.error && !err.userCode && err.name !== 'NoCodeError'
    ? ` (${out.error}${out.error_description ? `: ${out.error_description}` : ''})` : '';
  ctx.body = page('Enter code', `
${message ? `<p class="error" role="alert">${esc(message + detail)}</p>` : '<p>Enter the code shown on your TV.</p>'}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`);
}

export async function userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
  ctx.type = 'html';
  ctx.body = page('Confirm device', `
<p><strong>${esc(client.clientName || client.clientId)}</strong> is asking to sign in.</p>
<p>Check that your TV shows this code:</p>
<p><code>${esc(userCode)}</code></p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Cancel</button>`);
}

export async function successSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Sign-in Success', '<p>Your TV is now signed in. You can close this page.</p>');
}

export async function renderError(ctx, out) {
  ctx.type = 'html';
  const detail = out.error_description ? `${out.error}: ${out.error_description}` : out.error;
  ctx.body = errorPage('Something went wrong', detail);
}

export async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = page('Sign out?', `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in</button>`);
}

export async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<p>You are signed out.</p>');
}
