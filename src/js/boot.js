// The TV page's boot script (inline, classic, ES5: it must run on every engine a TV has).
// It picks the richest tier this engine can run, by feature detection only:
//   1. the WebAssembly app (hydration: push, countdown, D-pad, idle warning), where the engine
//      has WebAssembly and module scripts and the page's policy lets it compile;
//   2. the live fallback script (/tv-fallback.*.js) everywhere else, and wherever the
//      WebAssembly has not taken over within `waitMs` or fails to load;
//   3. with no script at all, the page's <noscript> refresh (not this file's business).
// Called as (function (...) {...})(jsUrl, wasmUrl, fallbackUrl, waitMs, evalCookie).
(function (jsUrl, wasmUrl, fallbackUrl, waitMs, evalCookie) {
  'use strict';
  var doc = document;
  var me = doc.currentScript;
  var nonce = me ? me.nonce || me.getAttribute('nonce') || '' : '';
  var tv = (window.tvsignin = window.tvsignin || {});
  var fallbackStarted = false;

  function hydrated() {
    return !!doc.body && doc.body.getAttribute('data-hydrated') === 'true';
  }

  function startFallback(reason) {
    if (fallbackStarted || hydrated()) return;
    fallbackStarted = true;
    tv.fallbackReason = reason;
    var script = doc.createElement('script');
    script.src = fallbackUrl;
    if (nonce) script.setAttribute('nonce', nonce);
    doc.head.appendChild(script);
  }

  // Called by the module below once the WebAssembly is ready. The fallback may have
  // rewritten the page in the meantime: hydrating that would not match, so it is skipped.
  tv.hydrate = function (hydrate) {
    if (tv.rewritten) return;
    if (doc.readyState === 'loading') {
      doc.addEventListener('DOMContentLoaded', function () {
        tv.hydrate(hydrate);
      });
      return;
    }
    hydrate();
  };
  tv.failed = function () {
    startFallback('failed');
  };

  var hasModules = 'noModule' in doc.createElement('script');
  if (typeof WebAssembly !== 'object' || !hasModules) {
    startFallback('unsupported');
    return;
  }
  // The smallest module (magic and version). Engines before Chromium 95 do not know the
  // policy's 'wasm-unsafe-eval' and refuse to compile: remember that for the next page (the
  // server then allows them 'unsafe-eval' instead) and stay live with the fallback now. The
  // note names the engine's version, so an updated engine gets the strict policy again.
  try {
    new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
  } catch (error) {
    var version = /Chrome\/(\d+)/.exec(navigator.userAgent);
    doc.cookie =
      evalCookie + '=' + (version ? version[1] : '1') + '; path=/; max-age=31536000; samesite=strict' +
      (location.protocol === 'https:' ? '; secure' : '');
    startFallback('policy');
    return;
  }

  var module = doc.createElement('script');
  module.type = 'module';
  if (nonce) module.setAttribute('nonce', nonce);
  module.textContent =
    'import init, { hydrate } from ' + JSON.stringify(jsUrl) + ';' +
    'init({ module_or_path: ' + JSON.stringify(wasmUrl) + ' })' +
    '.then(function () { tvsignin.hydrate(hydrate); })' +
    '.then(null, function (e) { tvsignin.failed(); throw e; });';
  module.onerror = tv.failed;
  // A glue file that does not parse never runs: its error names the file.
  window.addEventListener('error', function (event) {
    if (event.filename && event.filename.indexOf(jsUrl) !== -1) startFallback('error');
  });
  doc.head.appendChild(module);
  setTimeout(function () {
    startFallback('timeout');
  }, waitMs);
})
