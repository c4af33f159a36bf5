// Pieces the pages share: data loading, errors and the login form, copy buttons, pull commands,
// paging, the confirmation dialog, the theme switch.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, login } from './api.js';
import { bytes, platformName } from './format.js';
import type { PlatformSummary, Session } from './types.js';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/** One GET per page view (and per change of `path`); the last answer wins. */
export function useGet<T>(path: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    get<T>(path).then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  return { data: state.data, error: state.error, loading: state.loading, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export function ErrorView({ error, onSession }: { error: unknown; onSession: (s: Session) => void }) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    return (
      <section class="panel narrow">
        <h2>{error.status === 401 ? 'Sign in' : 'Access denied'}</h2>
        <p class="muted">{error.status === 401 ? 'This registry needs a user name and password.' : 'Your account may not see this. Sign in as another user?'}</p>
        <LoginForm onSession={onSession} />
      </section>
    );
  }
  const text = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
  return (
    <p class="error" role="alert">
      {error instanceof ApiError && error.status === 404 ? 'Not found — ' : ''}
      {text}
    </p>
  );
}

export function LoginForm({ onSession }: { onSession: (s: Session) => void }) {
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setMessage('');
    try {
      onSession(await login(String(form.get('user') ?? ''), String(form.get('password') ?? '')));
    } catch (err) {
      setMessage(err instanceof ApiError && err.status === 429 ? 'Too many failed logins: try again later.' : 'Wrong user name or password.');
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="login" onSubmit={submit}>
      <label>
        User name <input name="user" autocomplete="username" required autoFocus />
      </label>
      <label>
        Password <input name="password" type="password" autocomplete="current-password" required />
      </label>
      <button type="submit" class="primary" disabled={busy}>
        Sign in
      </button>
      {message && (
        <p class="error" role="alert">
          {message}
        </p>
      )}
    </form>
  );
}

/** Copies `text`; the Clipboard API needs a secure context, so plain-http registries fall back to a selection copy. */
async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      aria-label={`${label}: ${text}`}
      onClick={async () => {
        await copyText(text).catch(() => undefined);
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? 'Copied' : label}
    </button>
  );
}

/** Pull commands for the tools people use, each with a copy button. */
export function PullCommands({ name, reference }: { name: string; reference: string }) {
  const ref = `${location.host}/${name}${reference.includes(':') ? '@' : ':'}${reference}`;
  const local = `${name.split('/').pop()}:${reference.includes(':') ? 'latest' : reference}`;
  const commands: Array<[string, string]> = [
    ['docker', `docker pull ${ref}`],
    ['podman', `podman pull ${ref}`],
    ['skopeo', `skopeo copy docker://${ref} oci:${local}`],
    ['oras', `oras pull ${ref}`],
    ['berth', `berth pull ${ref} oci:${local}`],
  ];
  return (
    <div class="commands" aria-label="Pull commands">
      {commands.map(([tool, cmd]) => (
        <div class="command" key={tool}>
          <span class="tool">{tool}</span>
          <code>{cmd}</code>
          <CopyButton text={cmd} />
        </div>
      ))}
    </div>
  );
}

export function Pager({ offset, n, total, href }: { offset: number; n: number; total: number; href: (page: number) => string }) {
  if (total <= n) return null;
  const page = Math.floor(offset / n);
  const pages = Math.ceil(total / n);
  return (
    <nav class="pager" aria-label="Pages">
      {page > 0 ? <a href={href(page - 1)} rel="prev">← Previous</a> : <span class="disabled">← Previous</span>}
      <span>
        {(offset + 1).toLocaleString()}–{Math.min(offset + n, total).toLocaleString()} of {total.toLocaleString()} · page {(page + 1).toLocaleString()} of {pages.toLocaleString()}
      </span>
      {page < pages - 1 ? <a href={href(page + 1)} rel="next">Next →</a> : <span class="disabled">Next →</span>}
    </nav>
  );
}

/** A modal confirmation (the native dialog: focus stays inside, Escape cancels). */
export function Confirm({ title, children, action, onConfirm, onClose }: { title: string; children: ComponentChildren; action: string; onConfirm: () => Promise<void>; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} class="confirm" onClose={onClose} aria-labelledby="confirm-title">
      <h2 id="confirm-title">{title}</h2>
      <div>{children}</div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="button" onClick={() => ref.current?.close()} autoFocus>
          Cancel
        </button>
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await onConfirm();
              ref.current?.close();
            } catch (err) {
              setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          {action}
        </button>
      </div>
    </dialog>
  );
}

/** A term and its description in a `dl.facts`; nothing when there is no value. */
export function Fact({ term, children, when = true }: { term: string; children: ComponentChildren; when?: unknown }) {
  if (!when) return null;
  return (
    <>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </>
  );
}

/** A table's header row. */
export function Head({ columns }: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) => (
          <th scope="col" key={i}>
            {c || <span class="visually-hidden">Actions</span>}
          </th>
        ))}
      </tr>
    </thead>
  );
}

export function Platforms({ platforms }: { platforms: PlatformSummary[] }) {
  if (platforms.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="platforms">
      {platforms.map((p) => (
        <li key={p.digest} class={p.missing ? 'missing' : undefined} title={p.missing ? 'not stored in this registry' : p.digest}>
          <span>{platformName(p)}</span> <span class="size">{bytes(p.size)}</span>
        </li>
      ))}
    </ul>
  );
}

const THEMES = ['auto', 'light', 'dark'] as const;
type Theme = (typeof THEMES)[number];
const THEME_KEY = 'berth.theme';

const systemDark = matchMedia('(prefers-color-scheme: dark)');

/** Sets html[data-theme] from the chosen theme, or for "auto" from the system's scheme (followed as it changes). */
function applyTheme(theme: Theme): void {
  const dark = theme === 'dark' || (theme === 'auto' && systemDark.matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

function storedTheme(): Theme {
  const t = localStorage.getItem(THEME_KEY);
  return t === 'light' || t === 'dark' ? t : 'auto';
}

export function applyStoredTheme(): void {
  applyTheme(storedTheme());
  systemDark.addEventListener('change', () => applyTheme(storedTheme()));
}

export function ThemeSwitch() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const choose = (t: Theme) => {
    setTheme(t);
    if (t === 'auto') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, t);
    applyTheme(t);
  };
  return (
    <label class="theme">
      <span class="visually-hidden">Theme</span>
      <select value={theme} onChange={(e) => choose((e.currentTarget as HTMLSelectElement).value as Theme)} aria-label="Theme">
        {THEMES.map((t) => (
          <option value={t} key={t}>
            {t === 'auto' ? 'Auto theme' : t === 'light' ? 'Light' : 'Dark'}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A filter box; "/" anywhere on the page focuses it, Escape clears it. */
export function FilterBox({ value, placeholder, onInput, children }: { value: string; placeholder: string; onInput: (v: string) => void; children?: ComponentChildren }) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) {
        e.preventDefault();
        ref.current?.focus();
      }
    };
    addEventListener('keydown', key);
    return () => removeEventListener('keydown', key);
  }, []);
  return (
    <div class="filter">
      <input
        ref={ref}
        type="search"
        value={value}
        placeholder={placeholder}
        aria-label={placeholder}
        onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') onInput('');
        }}
      />
      {children}
    </div>
  );
}
