import { useEffect, useState } from 'react';
import { api, forgetPrimed, get, type Session, type SessionUser } from './api.ts';
import { Link, navigate, usePath } from './router.tsx';
import { Approvals } from './pages/Approvals.tsx';
import { Catalog } from './pages/Catalog.tsx';
import { CatalogItemPage } from './pages/CatalogItem.tsx';
import { Dashboard } from './pages/Dashboard.tsx';
import { MyAccess } from './pages/MyAccess.tsx';
import { MyRequests } from './pages/MyRequests.tsx';
import { RequestPage } from './pages/RequestPage.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { Tasks } from './pages/Tasks.tsx';

function Page({ path, user }: { path: string; user: SessionUser }) {
  const [route = '', id] = path.split('?')[0]!.split('/').slice(1);
  if (route === 'catalog' && id) return <CatalogItemPage itemId={decodeURIComponent(id)} user={user} />;
  if (route === 'requests' && id) return <RequestPage requestId={decodeURIComponent(id)} user={user} />;
  if (route === 'requests') return <MyRequests />;
  // The inbox holds approvals and access reviews; a review's notification links to /reviews.
  if (route === 'approvals' || route === 'reviews') return <Approvals user={user} />;
  if (route === 'access')
    return <MyAccess renew={new URLSearchParams(path.split('?')[1] ?? '').get('renew') ?? undefined} />;
  if (route === 'tasks') return <Tasks user={user} />;
  if (route === 'dashboard') return <Dashboard />;
  return <Catalog />;
}

export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session>();
  const [failed, setFailed] = useState<string>();
  const [version, setVersion] = useState(0);

  useEffect(() => {
    get<Session>('/api/session').then(setSession, (err: unknown) =>
      setFailed(err instanceof Error ? err.message : String(err)),
    );
  }, [version]);

  // The heading of each page takes the focus after a client-side navigation, so a screen
  // reader announces the new page as a full load would.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [path, session]);

  if (failed) return <p role="alert">The portal cannot reach the API: {failed}</p>;
  if (!session) return <p aria-busy="true">Loading…</p>;
  const { user } = session;
  if (!user)
    return (
      <SignIn
        options={session.signIn}
        onSignedIn={() => {
          forgetPrimed();
          if (path.startsWith('/sign-in')) navigate('/', true);
          setVersion((v) => v + 1);
        }}
      />
    );

  const signOut = async () => {
    await api('DELETE', '/api/session');
    forgetPrimed();
    navigate('/', true);
    setVersion((v) => v + 1);
  };
  const section = path.split('/')[1] ?? '';
  const nav = [
    { href: '/', label: 'Catalog', current: section === '' || section === 'catalog' },
    { href: '/requests', label: 'My requests', current: section === 'requests' },
    { href: '/access', label: 'My access', current: section === 'access' },
    { href: '/approvals', label: 'Approvals', current: section === 'approvals' || section === 'reviews' },
    ...(user.groups.length > 0 ? [{ href: '/tasks', label: 'Tasks', current: section === 'tasks' }] : []),
    ...(user.isOperator
      ? [{ href: '/dashboard', label: 'Dashboard', current: section === 'dashboard' }]
      : []),
  ];
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand">
          reqflow
        </Link>
        <nav aria-label="Portal">
          <ul>
            {nav.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={n.current ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>{user.name}</span>
          <button type="button" className="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Page path={path} user={user} />
      </main>
    </>
  );
}
