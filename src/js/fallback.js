// The TV page's live fallback (classic script, ES5, no build step), for engines where the
// WebAssembly does not run or has not taken over. It keeps the server-rendered page live:
// it follows the push stream (`/events` under the page's prefix; each event's id names the
// screen the status shows), or polls where there is no EventSource, and when the screen
// changed it fetches the page and puts the new <main> in place, without reloading. It ticks
// the countdowns, asks for the idle warning when it is due, reports key presses as activity
// while signed in, moves the focus with the arrow keys, and takes a signed-in TV on to its
// app (APP_URL) after the screen's delay. The buttons are the page's plain form posts; the
// stream under a session id that moved away ends with a `rotated` event.
// If the WebAssembly takes over after all, this script stops.
(function () {
  'use strict';
  var doc = document;
  var tv = (window.tvsignin = window.tvsignin || {});
  if (tv.fallback) return;

  // Under a prefix (BASE_PATH) the server says so in the page; every URL here carries it
  // (read once the page is parsed, in start()).
  var base = '';
  var RETRY_MS = 3000;
  var ROTATED_WAIT_MS = 2000;
  var POLL_MS = 3000;
  var ACTIVITY_EVERY_MS = 5000;
  var running = true;
  var source = null;
  var ticker = null;
  var poller = null;
  var loading = false;
  // A refresh asked for while one is under way: null, 'check' or 'force'.
  var pending = null;
  var warningAsked = 0;
  var lastActivity = 0;
  var continueTimer = null;
  var continueTo = null;

  function hydrated() {
    return doc.body.getAttribute('data-hydrated') === 'true';
  }

  function main() {
    return doc.querySelector('main.tv');
  }

  function screen() {
    var m = main();
    return m ? m.getAttribute('data-screen') : null;
  }

  function actions() {
    var list = doc.querySelectorAll('main button:not([disabled]), main a[href]');
    var out = [];
    for (var i = 0; i < list.length; i++) out.push(list[i]);
    return out;
  }

  function focusMainAction() {
    var target = doc.querySelector('main [data-autofocus]') || actions()[0];
    if (target) target.focus();
  }

  function stop() {
    running = false;
    clearTimeout(continueTimer);
    if (source) source.close();
    source = null;
    clearInterval(ticker);
    clearInterval(poller);
    doc.removeEventListener('keydown', onKey, true);
  }

  // Whether the WebAssembly has taken over: then everything here stops.
  function handedOver() {
    if (running && hydrated()) stop();
    return !running;
  }

  function parse(html) {
    if (window.DOMParser) {
      try {
        var parsed = new DOMParser().parseFromString(html, 'text/html');
        if (parsed && parsed.querySelector) return parsed;
      } catch (ignored) {
        // older engines: below
      }
    }
    var scratch = doc.implementation.createHTMLDocument('');
    scratch.documentElement.innerHTML = html;
    return scratch;
  }

  // Puts the fetched page's <main> in place of ours. The status line stays the same element
  // (only its text and state change), so screen readers announce the change. <noscript>
  // content is dropped: a parsed document has no scripting, so it holds real elements, and
  // an inserted meta refresh would be obeyed.
  function replaceMain(fresh) {
    var current = main();
    if (!current || !fresh) return false;
    var dropped = fresh.getElementsByTagName('noscript');
    while (dropped.length) dropped[0].parentNode.removeChild(dropped[0]);
    tv.rewritten = true;
    var attributes = ['data-state', 'data-screen'];
    for (var a = 0; a < attributes.length; a++) {
      current.setAttribute(attributes[a], fresh.getAttribute(attributes[a]) || '');
    }
    var oldStatus = current.querySelector('[data-testid="status"]');
    var newStatus = fresh.querySelector('[data-testid="status"]');
    while (current.firstChild) {
      if (current.firstChild === oldStatus) {
        current.removeChild(oldStatus);
      } else {
        current.removeChild(current.firstChild);
      }
    }
    var children = [];
    for (var c = fresh.firstChild; c; c = c.nextSibling) children.push(c);
    for (var i = 0; i < children.length; i++) {
      var child = children[i];
      if (child === newStatus && oldStatus) {
        oldStatus.setAttribute('data-state', newStatus.getAttribute('data-state') || '');
        if (oldStatus.textContent !== newStatus.textContent) {
          oldStatus.textContent = newStatus.textContent;
        }
        current.appendChild(oldStatus);
      } else {
        current.appendChild(doc.importNode(child, true));
      }
    }
    return true;
  }

  // Fetches the page and shows it if its screen differs from ours (always, when `force`).
  function refresh(force) {
    if (handedOver()) return;
    if (loading) {
      pending = force ? 'force' : pending || 'check';
      return;
    }
    loading = true;
    var request = new XMLHttpRequest();
    request.open('GET', location.pathname, true);
    request.setRequestHeader('Accept', 'text/html');
    request.onreadystatechange = function () {
      if (request.readyState !== 4) return;
      loading = false;
      if (handedOver()) return;
      var fresh = null;
      if (request.status === 200) fresh = parse(request.responseText).querySelector('main.tv');
      if (fresh && (force || fresh.getAttribute('data-screen') !== screen())) {
        if (replaceMain(fresh)) {
          focusMainAction();
          tick();
          scheduleContinue();
        }
      } else if (!fresh) {
        setTimeout(function () {
          refresh(force);
        }, RETRY_MS);
      }
      if (pending) {
        var next = pending;
        pending = null;
        refresh(next === 'force');
      }
    };
    request.send();
  }

  // Signed in with an app to go to: there after the delay the screen names. A new screen
  // with the same destination (a later sign-out time) keeps the time already waited.
  function scheduleContinue() {
    var note = doc.querySelector('main [data-continue-url]');
    var url = note ? note.getAttribute('data-continue-url') : null;
    if (url === continueTo) return;
    clearTimeout(continueTimer);
    continueTo = url;
    if (!url) return;
    var secs = Number(note.getAttribute('data-continue-secs')) || 0;
    continueTimer = setTimeout(function () {
      if (!handedOver() && doc.querySelector('main [data-continue-url]')) location.href = url;
    }, secs * 1000);
  }

  function formatMmSs(secs) {
    var s = secs % 60;
    return Math.floor(secs / 60) + ':' + (s < 10 ? '0' : '') + s;
  }

  // Once a second: the countdowns, and the idle warning when it is due.
  function tick() {
    if (handedOver()) return;
    var now = Date.now();
    var clocks = doc.querySelectorAll('main [data-deadline-ms]');
    for (var i = 0; i < clocks.length; i++) {
      var clock = clocks[i];
      var left = Math.max(0, Math.ceil((Number(clock.getAttribute('data-deadline-ms')) - now) / 1000));
      var time = clock.tagName.toLowerCase() === 'time' ? clock : clock.getElementsByTagName('time')[0];
      var text = formatMmSs(left);
      if (time && time.textContent !== text) time.textContent = text;
    }
    var signedIn = doc.querySelector('main [data-warn-at-ms]');
    if (signedIn && !doc.querySelector('[data-testid="idle-warning"]')) {
      var warnAt = Number(signedIn.getAttribute('data-warn-at-ms'));
      // The server renders the warning once it is due; ask again at most every few seconds.
      if (now >= warnAt && now - warningAsked > RETRY_MS) {
        warningAsked = now;
        refresh(true);
      }
    }
  }

  // While signed in, a key press means someone uses the TV: it postpones the idle sign-out.
  // The new sign-out time comes back through the push stream.
  function reportActivity() {
    if (!doc.querySelector('main [data-warn-at-ms]')) return;
    var now = Date.now();
    var warning = !!doc.querySelector('[data-testid="idle-warning"]');
    if (!warning && now - lastActivity < ACTIVITY_EVERY_MS) return;
    lastActivity = now;
    var request = new XMLHttpRequest();
    request.open('POST', base + '/api/activity', true);
    request.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    request.send('');
  }

  function onKey(event) {
    if (handedOver()) return;
    reportActivity();
    var key = event.key || event.keyIdentifier;
    var code = event.keyCode;
    var step = 0;
    if (key === 'ArrowDown' || key === 'ArrowRight' || key === 'Down' || key === 'Right' || code === 40 || code === 39) step = 1;
    if (key === 'ArrowUp' || key === 'ArrowLeft' || key === 'Up' || key === 'Left' || code === 38 || code === 37) step = -1;
    if (!step) return;
    event.preventDefault();
    var list = actions();
    if (!list.length) return;
    var at = -1;
    for (var i = 0; i < list.length; i++) if (list[i] === doc.activeElement) at = i;
    var next = at === -1 ? 0 : (at + step + list.length) % list.length;
    list[next].focus();
  }

  function listen() {
    if (handedOver()) return;
    var mine = new EventSource(base + '/events');
    source = mine;
    source.addEventListener('status', function (event) {
      if (event.lastEventId !== screen()) refresh(false);
    });
    // The session moved to a new id (Sign in, New code or Sign out: a form post, whose
    // answer sets the new cookie and loads the next page). Closed here, or EventSource would
    // reconnect with the old cookie; if no page comes (someone else holding a copy of the
    // old cookie acted), follow the stream again after a moment.
    source.addEventListener('rotated', function () {
      mine.close();
      if (source === mine) source = null;
      setTimeout(function () {
        if (source || handedOver()) return;
        listen();
        refresh(false);
      }, ROTATED_WAIT_MS);
    });
    source.onerror = function () {
      // CLOSED: the browser gave up (an HTTP error, not a dropped connection).
      if (source === mine && mine.readyState === 2) {
        source = null;
        setTimeout(listen, RETRY_MS);
      }
    };
  }

  function start() {
    if (!running) return;
    var baseMeta = doc.querySelector('meta[name="tvsignin-base"]');
    base = baseMeta ? baseMeta.getAttribute('content') || '' : '';
    doc.addEventListener('keydown', onKey, true);
    ticker = setInterval(tick, 1000);
    if (window.EventSource) {
      listen();
    } else {
      poller = setInterval(function () {
        refresh(false);
      }, POLL_MS);
    }
    tick();
    scheduleContinue();
    if (!doc.activeElement || doc.activeElement === doc.body) focusMainAction();
  }

  tv.fallback = { stop: stop, refresh: refresh };
  // From the cache this script can run before the page below the boot script is parsed:
  // then it starts once it is, or there would be no <main> to follow and nothing to focus.
  if (doc.readyState === 'loading') {
    doc.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
