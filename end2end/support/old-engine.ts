// Controls one page in an old browser engine from a Playwright test: QtWebEngine 5.15 (Chromium 87
// core) or QtWebKit 5.212 (Safari 10 era), run by engines/drive.py under xvfb-run and spoken to
// over its JSON-lines protocol. Every driver process is bounded (--max-seconds) and is killed,
// with its X server, by close().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './stack';

const XVFB_RUN = '/usr/bin/xvfb-run';
const PYTHON = '/usr/bin/python3'; // Debian's: the PyQt5 engine modules are bound to it
const DRIVER = join(ROOT, 'end2end', 'engines', 'drive.py');
const READY_TIMEOUT_MS = 60_000;
const STDERR_KEEP = 16_000;

export type OldEngineName = 'webengine' | 'webkit';
export type OldEngineKey =
  | 'ArrowDown' | 'ArrowUp' | 'ArrowLeft' | 'ArrowRight' | 'Enter' | 'Tab' | 'Escape' | 'Backspace' | 'Space';

export interface ConsoleEntry {
  /** info, warning or error (console.log counts as info, as in Chromium); alert/confirm/prompt for dialogs. */
  level: string;
  message: string;
  line: number;
  source: string;
}

export interface OldEngineLog {
  console: ConsoleEntry[];
  /** One URL per main-frame load started, in order (same-document navigations are not loads). */
  navigations: string[];
  loads: number;
  /** Every distinct main-frame URL in order, including fragment and pushState changes. */
  urls: string[];
}

export interface OldEngineOptions {
  /** Hard limit for the driver process (default 300 s). */
  maxSeconds?: number;
}

export interface OldEngine {
  readonly engine: OldEngineName;
  readonly userAgent: string;
  /** Evaluates one JavaScript expression in the page; a returned promise is awaited (10 s). */
  eval<T = unknown>(js: string): Promise<T>;
  /** Loads a URL and resolves when the main frame finished loading; throws if the load failed. */
  goto(url: string): Promise<void>;
  /** Sends a real key press and release to the view. */
  key(name: OldEngineKey | string): Promise<void>;
  log(): Promise<OldEngineLog>;
  screenshot(path: string): Promise<void>;
  /** Polls `js` every 250 ms until it is truthy and returns that value; throws with page state on timeout. */
  waitFor<T = unknown>(js: string, timeoutMs: number, description: string): Promise<T>;
  /** The driver's recent stderr, for diagnostics. */
  stderrTail(): string;
  close(): Promise<void>;
}

let available: boolean | undefined;

function driverEnv(): NodeJS.ProcessEnv {
  // A pyenv or venv setting must not leak into Debian's Python.
  const { PYTHONHOME: _home, PYTHONPATH: _path, VIRTUAL_ENV: _venv, ...env } = process.env;
  return env;
}

/** True when xvfb-run and both PyQt5 engines can be used here (checked once). */
export function oldEnginesAvailable(): boolean {
  if (available === undefined) {
    available =
      existsSync(XVFB_RUN) &&
      existsSync(PYTHON) &&
      spawnSync(PYTHON, ['-c', 'import PyQt5.QtWebEngineWidgets, PyQt5.QtWebKitWidgets'], {
        env: driverEnv(),
        stdio: 'ignore',
        timeout: 30_000,
      }).status === 0;
  }
  return available;
}

interface Pending {
  resolve(reply: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Starts the driver on `url` and resolves once the first load finished. */
export async function openOldEngine(
  engine: OldEngineName,
  url: string,
  options: OldEngineOptions = {},
): Promise<OldEngine> {
  const maxSeconds = options.maxSeconds ?? 300;
  const child = spawn(
    XVFB_RUN,
    ['-a', PYTHON, DRIVER, '--engine', engine, '--url', url, '--max-seconds', String(maxSeconds)],
    // Own process group, so close() can end xvfb-run, Xvfb, Python and the engine's helpers at once.
    { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: driverEnv() },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP);
  });
  const stderrTail = () => stderr.trim().split('\n').slice(-40).join('\n');
  child.stdin!.on('error', () => {}); // EPIPE after the driver exited is reported via 'exit'

  let exited: string | undefined;
  const pending = new Map<number, Pending>();
  let onReady: ((line: Record<string, unknown>) => void) | undefined;
  let onExitBeforeReady: ((why: string) => void) | undefined;

  // After the driver exited this only runs right away (from close()), so the group id cannot
  // have been reused yet.
  const killGroup = (evenAfterExit = false) => {
    if (child.pid === undefined || (exited !== undefined && !evenAfterExit)) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const killOnExit = () => killGroup();
  process.once('exit', killOnExit);

  child.once('exit', (code, signal) => {
    exited = signal ? `signal ${signal}` : `exit code ${code}`;
    process.removeListener('exit', killOnExit);
    const error = new Error(`${engine} driver ended (${exited}); stderr:\n${stderrTail()}`);
    for (const [, p] of pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    pending.clear();
    onExitBeforeReady?.(exited);
  });

  createInterface({ input: child.stdout! }).on('line', (text) => {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text);
    } catch {
      stderr = (stderr + `\n[unparseable stdout line] ${text}`).slice(-STDERR_KEEP);
      return;
    }
    if ('ready' in message) {
      onReady?.(message);
      return;
    }
    const p = pending.get(message.id as number);
    if (p) {
      pending.delete(message.id as number);
      clearTimeout(p.timer);
      p.resolve(message);
    }
  });

  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup();
      reject(new Error(`${engine} driver not ready after ${READY_TIMEOUT_MS / 1000} s; stderr:\n${stderrTail()}`));
    }, READY_TIMEOUT_MS);
    onReady = (line) => {
      clearTimeout(timer);
      if (line.ready === true) resolve(line);
      else {
        killGroup();
        reject(new Error(`${engine} driver failed to start: ${line.error}; stderr:\n${stderrTail()}`));
      }
    };
    onExitBeforeReady = (why) => {
      clearTimeout(timer);
      reject(new Error(`${engine} driver ended before it was ready (${why}); stderr:\n${stderrTail()}`));
    };
  });
  onExitBeforeReady = undefined;

  let nextId = 1;
  function send(command: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    if (exited !== undefined) {
      return Promise.reject(new Error(`${engine} driver already ended (${exited}); stderr:\n${stderrTail()}`));
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${engine} driver gave no reply to ${command.op} in ${timeoutMs / 1000} s; ` +
          `stderr:\n${stderrTail()}`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      child.stdin!.write(JSON.stringify({ ...command, id }) + '\n');
    });
  }

  async function call(command: Record<string, unknown>, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const reply = await send(command, timeoutMs);
    if (reply.ok !== true) {
      throw new Error(`${engine} ${command.op} failed: ${reply.error ?? 'unknown error'}`);
    }
    return reply;
  }

  const evaluate = async <T>(js: string): Promise<T> => (await call({ op: 'eval', js }, 20_000)).value as T;
  const log = async (): Promise<OldEngineLog> => {
    const reply = await call({ op: 'log' });
    return { console: reply.console, navigations: reply.navigations, loads: reply.loads, urls: reply.urls } as OldEngineLog;
  };

  return {
    engine,
    userAgent: String(ready.userAgent ?? ''),
    eval: evaluate,
    async goto(target: string) {
      await call({ op: 'goto', url: target }, 45_000);
    },
    async key(name: string) {
      await call({ op: 'key', key: name });
    },
    log,
    async screenshot(path: string) {
      await call({ op: 'screenshot', path });
    },
    async waitFor<T>(js: string, timeoutMs: number, description: string): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      for (;;) {
        try {
          const value = await evaluate<T>(js);
          if (value) return value;
          last = value;
        } catch (error) {
          if (exited !== undefined) throw error;
          last = `(evaluation failed: ${(error as Error).message})`;
        }
        if (Date.now() >= deadline) break;
        await new Promise((ok) => setTimeout(ok, Math.min(250, Math.max(0, deadline - Date.now()))));
      }
      let html: string;
      try {
        html = String(await evaluate<string>('document.body ? document.body.outerHTML : document.documentElement.outerHTML'));
      } catch (error) {
        html = `(unavailable: ${(error as Error).message})`;
      }
      if (html.length > 3000) html = html.slice(0, 3000) + '…';
      let consoleText: string;
      try {
        consoleText = (await log()).console
          .map((entry) => `  [${entry.level}] ${entry.message} (${entry.source}:${entry.line})`)
          .join('\n') || '  (empty)';
      } catch (error) {
        consoleText = `  (unavailable: ${(error as Error).message})`;
      }
      throw new Error(
        `${engine}: timed out after ${timeoutMs} ms waiting for ${description}\n` +
          `expression: ${js}\nlast value: ${JSON.stringify(last)}\n` +
          `body:\n${html}\nconsole:\n${consoleText}`,
      );
    },
    stderrTail,
    async close() {
      if (exited === undefined) {
        const gone = new Promise<void>((ok) => child.once('exit', () => ok()));
        const killer = setTimeout(() => killGroup(), 5_000);
        send({ op: 'quit' }, 5_000).catch(() => {});
        child.stdin!.end();
        await gone;
        clearTimeout(killer);
        killGroup(true); // the engine's helper processes, should any be left
      }
    },
  };
}
