#!/usr/bin/python3
# Old-engine driver for the end-to-end tests: opens one page in QtWebEngine 5.15 (Chromium 87
# core) or QtWebKit 5.212 and lets a test control it over a JSON-lines protocol on stdin/stdout.
# Driven from support/old-engine.ts; meant to run as
#   xvfb-run -a /usr/bin/python3 drive.py --engine webengine|webkit --url URL [--max-seconds N]
#
# Protocol: the first stdout line is {"ready":true,"engine":..,"userAgent":..} once the first
# load finished (or {"ready":false,"error":..} and a non-zero exit). Then one JSON command per
# stdin line, one JSON reply per stdout line, handled strictly in order:
#   {"id":N,"op":"eval","js":EXPR}        -> {"id":N,"ok":true,"value":..} | {"id":N,"ok":false,"error":..}
#   {"id":N,"op":"goto","url":URL}        -> reply when the main frame's load finished
#   {"id":N,"op":"key","key":"ArrowDown"} -> real key press + release sent to the view
#   {"id":N,"op":"log"}                   -> {"console":[..],"navigations":[..],"loads":K,"urls":[..]}
#   {"id":N,"op":"screenshot","path":P}   -> the view grabbed to a PNG file
#   {"id":N,"op":"quit"}                  -> reply, then exit 0 (stdin EOF exits 0 too)
# Nothing else is written to stdout; diagnostics go to stderr. A hard limit (--max-seconds)
# ends the process with exit code 3 whatever it is doing.

import argparse
import json
import os
import signal
import sys
import time

EVAL_TIMEOUT_MS = 10_000
GOTO_TIMEOUT_MS = 30_000
TIMED_OUT = object()
KEYS = {
    # name: (Qt key attribute, text)
    'ArrowDown': ('Key_Down', ''),
    'ArrowUp': ('Key_Up', ''),
    'ArrowLeft': ('Key_Left', ''),
    'ArrowRight': ('Key_Right', ''),
    'Enter': ('Key_Return', '\r'),
    'Tab': ('Key_Tab', '\t'),
    'Escape': ('Key_Escape', '\x1b'),
    'Backspace': ('Key_Backspace', '\x08'),
    'Space': ('Key_Space', ' '),
}
APP_NAME = 'old-engine-drive'
CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking']

# The expression is evaluated inside a function so that every result comes back as one JSON
# string: {"ok":true,"value":..}, {"ok":false,"error":..} or {"pending":KEY} for a thenable,
# whose outcome is then polled with POLL_JS.
SAFE_JS = r"""
function (r) {
  if (r === undefined) r = null;
  try {
    var s = JSON.stringify({ ok: true, value: r });
    if (s !== undefined) return s;
  } catch (e) {}
  return JSON.stringify({ ok: true, value: String(r) });
}
"""
ERROR_JS = r"""
function (e) {
  var m = String(e);
  if (e && e.stack && String(e.stack).indexOf(m) < 0) m += '\n' + e.stack;
  else if (e && e.stack) m = String(e.stack);
  return m;
}
"""
EVAL_JS = r"""
(function () {
  var safe = %(safe)s, error = %(error)s, r;
  try {
    r = (
%(expr)s
    );
  } catch (e) {
    return JSON.stringify({ ok: false, error: error(e) });
  }
  if (r && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') {
    var store = window.__oldEngineDrive || (window.__oldEngineDrive = {});
    store[%(key)s] = { done: false };
    r.then(function (v) { store[%(key)s] = { done: true, json: safe(v) }; },
           function (e) { store[%(key)s] = { done: true, json: JSON.stringify({ ok: false, error: error(e) }) }; });
    return JSON.stringify({ pending: %(key)s });
  }
  return safe(r);
})()
"""
POLL_JS = r"""
(function () {
  var store = window.__oldEngineDrive, s = store && store[%(key)s];
  if (!s) return JSON.stringify({ ok: false, error: 'promise result lost (the page navigated?)' });
  if (!s.done) return JSON.stringify({ pending: %(key)s });
  delete store[%(key)s];
  return s.json;
})()
"""


def log(*parts):
    print('drive.py:', *parts, file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description='Drive one page in an old browser engine over JSON lines.')
    p.add_argument('--engine', required=True, choices=['webengine', 'webkit'])
    p.add_argument('--url', required=True)
    p.add_argument('--max-seconds', type=float, default=300.0, help='hard limit for the whole run')
    p.add_argument('--load-seconds', type=float, default=45.0, help='limit for the first page load')
    p.add_argument('--width', type=int, default=1280)
    p.add_argument('--height', type=int, default=720)
    return p.parse_args()


def main():
    args = parse_args()

    # Keep the protocol channel private: fd 1 becomes stderr, so nothing Qt, Chromium or Python
    # prints by accident can corrupt the JSON lines.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    # Backstop for the hard limit even if the event loop is stuck inside the engine:
    # SIGALRM's default action ends the process.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(int(args.max_seconds) + 10)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    flags = os.environ.get('QTWEBENGINE_CHROMIUM_FLAGS', '').split()
    flags += [f for f in CHROMIUM_FLAGS if f not in flags]
    os.environ['QTWEBENGINE_CHROMIUM_FLAGS'] = ' '.join(flags)

    from PyQt5.QtCore import QCoreApplication, Qt, QTimer, QUrl
    if args.engine == 'webengine':
        # Must be imported before the QApplication exists.
        from PyQt5 import QtWebEngineWidgets  # noqa: F401
    else:
        from PyQt5 import QtWebKitWidgets  # noqa: F401
    from PyQt5.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts)
    app = QApplication([sys.argv[0]])  # kept alive for as long as the view exists
    app.setApplicationName(APP_NAME)

    def write(obj):
        data = (json.dumps(obj, ensure_ascii=True) + '\n').encode()
        while data:
            n = os.write(out_fd, data)
            data = data[n:]

    if args.engine == 'webengine':
        driver = WebEngineDriver(args, write)
    else:
        driver = WebKitDriver(args, write)

    def excepthook(kind, value, tb):
        # PyQt aborts the process on an exception escaping a slot unless a hook is installed.
        import traceback
        log('unexpected error:', ''.join(traceback.format_exception(kind, value, tb)))
        if driver.busy:  # never leave a command without its reply
            driver.reply(driver.current, {'ok': False, 'error': f'driver error: {kind.__name__}: {value}'})

    sys.excepthook = excepthook

    def hard_limit():
        log(f'hard limit of {args.max_seconds:g} s reached; exiting')
        os._exit(3)

    QTimer.singleShot(int(args.max_seconds * 1000), hard_limit)
    driver.start(QUrl(args.url))
    code = app.exec_()
    driver.teardown()
    os._exit(code if driver.exit_code is None else driver.exit_code)


class Driver:
    """Engine-independent part: the command queue, the protocol and the collected logs."""

    engine = ''

    def __init__(self, args, write):
        from PyQt5.QtCore import QTimer
        self.args = args
        self.write = write
        self.console = []
        self.navigations = []
        self.last_request = None
        self.urls = []
        self.loads = 0
        self.ready = False
        self.exit_code = None
        self.queue = []
        self.busy = False
        self.eof = False
        self.buffer = b''
        self.seq = 0
        self.current = None
        self.goto_pending = None  # {'id', 'started', 'timer'} while a goto waits for its load
        self.first_load_timer = QTimer()
        self.first_load_timer.setSingleShot(True)
        self.first_load_timer.timeout.connect(self.first_load_timeout)
        self.notifier = None

    # ---- start-up and shutdown ----

    def start(self, url):
        self.view.resize(self.args.width, self.args.height)
        self.view.show()
        self.first_load_timer.start(int(self.args.load_seconds * 1000))
        self.load(url)

    def first_load_timeout(self):
        if not self.ready:
            self.write({'ready': False, 'error': f'first load did not finish in {self.args.load_seconds:g} s'})
            self.exit(2)

    def became_ready(self, ok):
        self.first_load_timer.stop()
        if not ok:
            self.write({'ready': False, 'error': f'first load of {self.args.url} failed'})
            self.exit(2)
            return
        self.ready = True
        self.view.setFocus()
        self.write({'ready': True, 'engine': self.engine, 'userAgent': self.user_agent()})
        from PyQt5.QtCore import QSocketNotifier
        self.notifier = QSocketNotifier(0, QSocketNotifier.Read)
        self.notifier.activated.connect(self.read_stdin)

    def exit(self, code):
        from PyQt5.QtWidgets import QApplication
        if self.exit_code is None:
            self.exit_code = code
        if self.notifier is not None:
            self.notifier.setEnabled(False)
        QApplication.instance().exit(code)

    def teardown(self):
        pass

    # ---- stdin ----

    def read_stdin(self):
        try:
            chunk = os.read(0, 65536)
        except BlockingIOError:
            return
        except OSError as e:
            log('reading stdin failed:', e)
            chunk = b''
        if not chunk:
            self.eof = True
            self.notifier.setEnabled(False)
        else:
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b'\n')
            for line in lines:
                if line.strip():
                    self.queue.append(line)
        self.pump()

    def pump(self):
        while not self.busy and self.queue and self.exit_code is None:
            line = self.queue.pop(0)
            try:
                cmd = json.loads(line)
                if not isinstance(cmd, dict):
                    raise ValueError('a command must be a JSON object')
            except ValueError as e:
                self.write({'id': None, 'ok': False, 'error': f'bad command line: {e}'})
                continue
            self.busy = True
            self.current = cmd.get('id')
            try:
                self.dispatch(cmd)
            except Exception as e:  # an exception escaping a Qt slot would abort the process
                log('command failed:', repr(e))
                self.reply(cmd.get('id'), {'ok': False, 'error': f'{type(e).__name__}: {e}'})
        if not self.busy and not self.queue and self.eof and self.exit_code is None:
            log('stdin closed; exiting')
            self.exit(0)

    def reply(self, cmd_id, body):
        if not self.busy or cmd_id != self.current:
            return  # a late callback for a command that already timed out
        self.write({'id': cmd_id, **body})
        self.busy = False
        from PyQt5.QtCore import QTimer
        QTimer.singleShot(0, self.pump)

    def dispatch(self, cmd):
        op = cmd.get('op')
        cmd_id = cmd.get('id')
        if op == 'eval':
            self.op_eval(cmd_id, str(cmd.get('js', '')))
        elif op == 'goto':
            self.op_goto(cmd_id, str(cmd.get('url', '')))
        elif op == 'key':
            self.op_key(cmd_id, str(cmd.get('key', '')))
        elif op == 'log':
            self.reply(cmd_id, {'ok': True, 'console': list(self.console), 'navigations': list(self.navigations),
                                'loads': self.loads, 'urls': list(self.urls)})
        elif op == 'screenshot':
            self.op_screenshot(cmd_id, str(cmd.get('path', '')))
        elif op == 'quit':
            self.reply(cmd_id, {'ok': True})
            self.exit(0)
        else:
            self.reply(cmd_id, {'ok': False, 'error': f'unknown op {op!r}'})

    # ---- page events (called by the engine classes) ----

    def on_console(self, level, message, line, source):
        self.console.append({'level': level, 'message': message, 'line': line, 'source': source})

    def on_navigation_request(self, url):
        self.last_request = url

    def on_load_started(self):
        # One entry per main-frame load; same-document navigations (fragment, pushState) start
        # no load and are only listed in 'urls'.
        self.loads += 1
        self.navigations.append(self.last_request or self.requested_url())
        self.last_request = None
        if self.goto_pending is not None:
            self.goto_pending['started'] = True

    def on_url_changed(self, url):
        if not self.urls or self.urls[-1] != url:
            self.urls.append(url)

    def on_load_finished(self, ok):
        if not self.ready:
            if self.exit_code is None:
                self.became_ready(ok)
            return
        pending = self.goto_pending
        if pending is not None and pending['started']:
            pending['timer'].stop()
            self.goto_pending = None
            body = {'ok': bool(ok), 'url': self.current_url()}
            if not ok:
                body['error'] = 'load failed'
            self.reply(pending['id'], body)

    # ---- operations ----

    def op_eval(self, cmd_id, js):
        self.seq += 1
        key = json.dumps(f'r{self.seq}')
        expr = js.strip()
        while expr.endswith(';'):
            expr = expr[:-1].rstrip()
        if not expr:
            expr = 'undefined'
        code = EVAL_JS % {'safe': SAFE_JS.strip(), 'error': ERROR_JS.strip(), 'expr': expr, 'key': key}
        deadline = time.monotonic() + EVAL_TIMEOUT_MS / 1000

        def got(result):
            if self.current != cmd_id or not self.busy:
                return
            if result is TIMED_OUT:
                self.reply(cmd_id, {'ok': False, 'error': f'no result within {EVAL_TIMEOUT_MS // 1000} s '
                                    '(a promise that never settles, a busy page, or a navigation)'})
                return
            if not isinstance(result, str):
                self.reply(cmd_id, {'ok': False, 'error': 'no result: the code did not compile (it must be one '
                                    'expression; for statements use (function () { ...; return v; })()), '
                                    'or the page navigated while it ran'})
                return
            try:
                parsed = json.loads(result)
            except ValueError:
                self.reply(cmd_id, {'ok': False, 'error': 'unparseable result: ' + result[:200]})
                return
            if 'pending' in parsed:
                if time.monotonic() > deadline:
                    got(TIMED_OUT)
                    return
                from PyQt5.QtCore import QTimer
                QTimer.singleShot(50, lambda: self.run_js(POLL_JS % {'key': key}, got, deadline))
                return
            if parsed.get('ok'):
                self.reply(cmd_id, {'ok': True, 'value': parsed.get('value')})
            else:
                self.reply(cmd_id, {'ok': False, 'error': str(parsed.get('error'))})

        self.run_js(code, got, deadline)

    def op_goto(self, cmd_id, url):
        from PyQt5.QtCore import QTimer, QUrl
        timer = QTimer()
        timer.setSingleShot(True)

        def timed_out():
            if self.goto_pending is not None and self.goto_pending['id'] == cmd_id:
                self.goto_pending = None
                self.reply(cmd_id, {'ok': False, 'error': f'load did not finish in {GOTO_TIMEOUT_MS // 1000} s'})

        timer.timeout.connect(timed_out)
        self.goto_pending = {'id': cmd_id, 'started': False, 'timer': timer}
        timer.start(GOTO_TIMEOUT_MS)
        self.load(QUrl(url))

    def op_key(self, cmd_id, name):
        from PyQt5.QtCore import QEvent, Qt
        from PyQt5.QtGui import QKeyEvent
        from PyQt5.QtWidgets import QApplication
        if name in KEYS:
            attr, text = KEYS[name]
            key = getattr(Qt, attr)
        elif len(name) == 1 and name.isprintable():
            key, text = char_key(name), name
        else:
            self.reply(cmd_id, {'ok': False, 'error': f'unknown key {name!r}; known: {", ".join(KEYS)} '
                                'or one printable character'})
            return
        target = self.key_target()
        for kind in (QEvent.KeyPress, QEvent.KeyRelease):
            QApplication.sendEvent(target, QKeyEvent(kind, key, Qt.NoModifier, text))
        self.after_key(lambda: self.reply(cmd_id, {'ok': True}))

    def op_screenshot(self, cmd_id, path):
        if not path:
            self.reply(cmd_id, {'ok': False, 'error': 'no path given'})
            return
        image = self.view.grab()
        if image.save(path, 'PNG'):
            self.reply(cmd_id, {'ok': True, 'path': path, 'width': image.width(), 'height': image.height()})
        else:
            self.reply(cmd_id, {'ok': False, 'error': f'could not write {path}'})


def connect_console_levels(page, on_console):
    """QtWebKit 5.212 reports console levels only through QWebPage::consoleMessageReceived, whose
    enum argument types PyQt5 does not know. Registering their names as aliases of int lets PyQt
    connect to it. Returns False (levels then read 'unknown') if that is not possible."""
    try:
        import ctypes
        from PyQt5 import sip
        from PyQt5.QtCore import QByteArray, QMetaType
        core = ctypes.CDLL('libQt5Core.so.5')
        register = core._ZN9QMetaType25registerNormalizedTypedefERK10QByteArrayi  # (const QByteArray&, int)
        register.argtypes = [ctypes.c_void_p, ctypes.c_int]
        register.restype = ctypes.c_int
        for name in ('MessageSource', 'MessageLevel'):
            if QMetaType.type(name) == QMetaType.UnknownType:
                alias = QByteArray(name.encode())
                register(sip.unwrapinstance(alias), QMetaType.Int)
        # QWebPage::MessageLevel: 1 log, 2 warning, 3 error, 4 debug, 5 info. Named like
        # QtWebEngine's levels (which report console.log as info).
        levels = {1: 'info', 2: 'warning', 3: 'error', 4: 'info', 5: 'info'}
        page.consoleMessageReceived.connect(
            lambda source, level, message, line, url: on_console(levels.get(level, str(level)), message, line, url))
        return True
    except Exception as e:  # noqa: BLE001 - any failure just means no levels
        log('console levels unavailable in QtWebKit:', repr(e))
        return False


def char_key(char):
    from PyQt5.QtGui import QKeySequence
    seq = QKeySequence(char.upper() if char.isalpha() else char)
    return seq[0] if seq.count() else 0


class WebEngineDriver(Driver):
    engine = 'webengine'

    def __init__(self, args, write):
        super().__init__(args, write)
        from PyQt5.QtWebEngineWidgets import QWebEnginePage, QWebEngineProfile, QWebEngineSettings, QWebEngineView
        driver = self

        class Page(QWebEnginePage):
            LEVELS = {0: 'info', 1: 'warning', 2: 'error'}

            def javaScriptConsoleMessage(self, level, message, line, source):
                driver.on_console(self.LEVELS.get(int(level), str(int(level))), message, line, source)

            def acceptNavigationRequest(self, url, kind, is_main_frame):
                if is_main_frame:
                    driver.on_navigation_request(url.toString())
                return True

            # Dialogs would open modal windows and stall the event loop: record and dismiss.
            def javaScriptAlert(self, origin, message):
                driver.on_console('alert', message, 0, origin.toString())

            def javaScriptConfirm(self, origin, message):
                driver.on_console('confirm', message, 0, origin.toString())
                return False

            def javaScriptPrompt(self, origin, message, default):
                driver.on_console('prompt', message, 0, origin.toString())
                return False, ''

            def chooseFiles(self, mode, old, accepted):
                return []

            def certificateError(self, error):
                return False

        # A profile without a storage name is off the record: no cookies or storage on disk,
        # so every run starts clean.
        self.profile = QWebEngineProfile()
        self.view = QWebEngineView()
        self.page = Page(self.profile, self.view)
        self.page.settings().setAttribute(QWebEngineSettings.FocusOnNavigationEnabled, True)
        self.view.setPage(self.page)
        self.page.loadStarted.connect(self.on_load_started)
        self.page.loadFinished.connect(self.on_load_finished)
        self.page.urlChanged.connect(lambda url: self.on_url_changed(url.toString()))

    def user_agent(self):
        return self.profile.httpUserAgent()

    def load(self, url):
        self.page.load(url)

    def current_url(self):
        return self.page.url().toString()

    def requested_url(self):
        return self.page.requestedUrl().toString()

    def run_js(self, code, callback, deadline):
        # runJavaScript is asynchronous; the callback may never come (e.g. the page navigated
        # away), so a timer answers for it.
        from PyQt5.QtCore import QTimer
        state = {'done': False}

        def finish(result):
            if not state['done']:
                state['done'] = True
                callback(result)

        def timeout():
            if not state['done']:
                state['done'] = True
                callback(TIMED_OUT)

        QTimer.singleShot(max(0, int((deadline - time.monotonic()) * 1000)), timeout)
        self.page.runJavaScript(code, finish)

    def key_target(self):
        # Chromium's render widget receives input; it is the view's focus proxy once a page rendered.
        return self.view.focusProxy() or self.view

    def after_key(self, done):
        # Key events travel to the renderer asynchronously; a JavaScript round trip afterwards
        # lets the page's handlers run before the reply (tests should still wait for effects).
        from PyQt5.QtCore import QTimer
        QTimer.singleShot(30, lambda: self.run_js('1', lambda _r: done(), time.monotonic() + 2))

    def teardown(self):
        # The page must go before its profile, or Qt warns and may crash on exit.
        from PyQt5 import sip
        for obj in (self.page, self.view, self.profile):
            try:
                sip.delete(obj)
            except Exception as e:
                log('teardown:', repr(e))


class WebKitDriver(Driver):
    engine = 'webkit'

    def __init__(self, args, write):
        super().__init__(args, write)
        self.console_levels = False
        from PyQt5.QtCore import pyqtSlot
        from PyQt5.QtWebKit import QWebSettings
        from PyQt5.QtWebKitWidgets import QWebPage, QWebView
        import tempfile
        driver = self

        class Page(QWebPage):
            def javaScriptConsoleMessage(self, message, line, source):
                # Only used when consoleMessageReceived (which carries the level) is unavailable.
                if not driver.console_levels:
                    driver.on_console('unknown', message, line, source)

            def userAgentForUrl(self, url):
                # QtWebKit puts the application's name in the user agent; leave it out.
                return ' '.join(t for t in super().userAgentForUrl(url).split(' ') if t != APP_NAME)

            def acceptNavigationRequest(self, frame, request, kind):
                if frame is not None and frame is self.mainFrame():
                    driver.on_navigation_request(request.url().toString())
                return True

            def javaScriptAlert(self, frame, message):
                driver.on_console('alert', message, 0, frame.url().toString() if frame else '')

            def javaScriptConfirm(self, frame, message):
                driver.on_console('confirm', message, 0, frame.url().toString() if frame else '')
                return False

            def javaScriptPrompt(self, frame, message, default):
                driver.on_console('prompt', message, 0, frame.url().toString() if frame else '')
                return False, ''

            @pyqtSlot(result=bool)
            def shouldInterruptJavaScript(self):
                driver.on_console('error', 'long-running script interrupted', 0, '')
                return True

        self.storage = tempfile.TemporaryDirectory(prefix='old-engine-webkit-')
        settings = QWebSettings.globalSettings()
        settings.setAttribute(QWebSettings.JavascriptEnabled, True)
        settings.setAttribute(QWebSettings.LocalStorageEnabled, True)
        settings.setAttribute(QWebSettings.JavascriptCanAccessClipboard, False)
        settings.setAttribute(QWebSettings.JavascriptCanOpenWindows, False)
        settings.setLocalStoragePath(os.path.join(self.storage.name, 'local-storage'))
        settings.setOfflineStoragePath(os.path.join(self.storage.name, 'offline-storage'))
        # Cookies live in the default QNetworkAccessManager's in-memory jar.
        self.view = QWebView()
        self.page = Page(self.view)
        self.view.setPage(self.page)
        frame = self.page.mainFrame()
        frame.loadStarted.connect(self.on_load_started)
        frame.loadFinished.connect(self.on_load_finished)
        frame.urlChanged.connect(lambda url: self.on_url_changed(url.toString()))
        self.console_levels = connect_console_levels(self.page, self.on_console)

    def user_agent(self):
        return self.page.userAgentForUrl(self.page.mainFrame().url())

    def load(self, url):
        self.view.load(url)

    def current_url(self):
        return self.page.mainFrame().url().toString()

    def requested_url(self):
        return self.page.mainFrame().requestedUrl().toString()

    def run_js(self, code, callback, deadline):
        # Synchronous; answered on the next event-loop turn so replies keep their order.
        result = self.page.mainFrame().evaluateJavaScript(code)
        from PyQt5.QtCore import QTimer
        QTimer.singleShot(0, lambda: callback(result))

    def key_target(self):
        return self.view

    def after_key(self, done):
        done()

    def teardown(self):
        try:
            self.storage.cleanup()
        except OSError:
            pass


if __name__ == '__main__':
    main()
