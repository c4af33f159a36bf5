import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { loadSession, logout } from './api.js';
import { applyStoredTheme, ErrorView, LoginForm, ThemeSwitch } from './components.js';
import { Image } from './pages/image.js';
import { Referrers } from './pages/referrers.js';
import { Repositories } from './pages/repositories.js';
import { Repository } from './pages/repository.js';
import { links, useRoute, type Route } from './router.js';
import type { Session } from './types.js';
import './style.css';

function App() {
  const [session, setSession] = useState<Session | undefined>();
  const [error, setError] = useState<unknown>();
  const [signingIn, setSigningIn] = useState(false);
  const route = useRoute();
  useEffect(() => {
    loadSession().then(setSession, setError);
  }, []);
  useEffect(() => {
    if (session) document.title = session.title;
  }, [session]);
  const onSession = (s: Session) => {
    setSession(s);
    setSigningIn(false);
  };
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={links.repositories()}>
          <span class="logo" aria-hidden="true">
            ⚓
          </span>{' '}
          {session?.title ?? document.title}
        </a>
        <div class="spacer" />
        {session?.readOnly && <span class="badge">read-only</span>}
        {session?.auth &&
          (session.user ? (
            <span class="user">
              {session.user}{' '}
              <button type="button" onClick={() => logout().then(onSession, setError)}>
                Sign out
              </button>
            </span>
          ) : (
            <button type="button" onClick={() => setSigningIn(true)}>
              Sign in
            </button>
          ))}
        <ThemeSwitch />
      </header>
      <main id="main" tabIndex={-1}>
        {error ? <ErrorView error={error} onSession={onSession} /> : null}
        {signingIn && !session?.user && (
          <section class="panel narrow">
            <h2>Sign in</h2>
            <LoginForm onSession={onSession} />
          </section>
        )}
        {/* Pages load again when the user changes (what they may see changes with it). */}
        {session && <Page key={session.user ?? ''} route={route} onSession={onSession} />}
      </main>
      <footer class="muted">
        Berth {session?.version}
      </footer>
    </>
  );
}

function Page({ route, onSession }: { route: Route; onSession: (s: Session) => void }) {
  switch (route.page) {
    case 'repositories':
      return <Repositories params={route.params} onSession={onSession} />;
    case 'repository':
      return <Repository name={route.name} params={route.params} onSession={onSession} />;
    case 'image':
      return <Image key={`${route.name}@${route.reference}`} name={route.name} reference={route.reference} onSession={onSession} />;
    case 'referrers':
      return <Referrers name={route.name} digest={route.reference} onSession={onSession} />;
    case 'missing':
      return (
        <p>
          No such page. <a href={links.repositories()}>Repositories</a>
        </p>
      );
  }
}

applyStoredTheme();
render(<App />, document.getElementById('app')!);
