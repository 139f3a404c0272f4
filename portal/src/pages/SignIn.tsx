import { useEffect, useState } from 'react';
import { get, post } from '../api.ts';
import { Problem } from '../ui.tsx';

interface Person {
  id: string;
  name: string;
  role: string;
}

/** Dev mode lists the demo people; with an OpenID provider, one button signs in there. */
export function SignIn({
  options,
  onSignedIn,
}: {
  options: { dev: boolean; oidc: boolean };
  onSignedIn: () => void;
}) {
  const [people, setPeople] = useState<Person[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (options.dev)
      get<{ items: Person[] }>('/api/dev/people').then(
        (r) => setPeople(r.items),
        (err: unknown) => setError(String(err)),
      );
  }, [options.dev]);
  const signInAs = (id: string) =>
    post('/api/dev/session', { userId: id }).then(onSignedIn, (err: unknown) =>
      setError(err instanceof Error ? err.message : String(err)),
    );
  const returnTo = location.pathname.startsWith('/sign-in') ? '/' : location.pathname + location.search;
  return (
    <main id="main" className="sign-in">
      <h1 tabIndex={-1}>Sign in to the service portal</h1>
      <Problem text={error} />
      {options.oidc && (
        <p>
          <a
            className="button primary"
            href={`/api/session/oidc/login?returnTo=${encodeURIComponent(returnTo)}`}
          >
            Sign in with your company account
          </a>
        </p>
      )}
      {options.dev && (
        <section aria-labelledby="demo-people">
          <h2 id="demo-people">Demo people (dev mode)</h2>
          <ul className="people">
            {people.map((p) => (
              <li key={p.id}>
                <button type="button" onClick={() => void signInAs(p.id)}>
                  <span className="name">{p.name}</span>
                  <span className="role">{p.role}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {!options.dev && !options.oidc && (
        <p>No sign-in is configured: set OIDC_ISSUER and OIDC_CLIENT_ID, or run in dev mode.</p>
      )}
    </main>
  );
}
