import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError, api, csrfToken, toSignIn } from "../api";
import { startRouter, type View } from "../router";

const NAV: Array<[string, string]> = [
  ["datasets", "Datasets"],
  ["jobs", "Jobs"],
  ["models", "Models"],
  ["deployments", "Deployments"],
  ["tokens", "API tokens"],
];

/** The section a page belongs to: a version or a comparison is part of Models. */
export function navSection(section: string): string {
  return section === "versions" || section === "compare" ? "models" : section;
}

function SignOut(): ReactNode {
  const token = useRef<HTMLInputElement>(null);
  return (
    <form
      method="post"
      action="/logout/"
      className="sign-out"
      // Read the token at submit time: Django rotates it when the session changes.
      onSubmit={() => {
        if (token.current) token.current.value = csrfToken();
      }}
    >
      <input ref={token} type="hidden" name="csrfmiddlewaretoken" />
      <button type="submit" id="sign-out" className="secondary">
        Sign out
      </button>
    </form>
  );
}

/**
 * The console's frame: the top bar (sections, who is signed in, sign out) and the outlet the
 * router draws pages into. The outlet's children belong to the router, never to React.
 */
export function Shell({ routes }: { routes: Record<string, View> }): ReactNode {
  const outlet = useRef<HTMLElement>(null);
  const started = useRef(false);
  const [section, setSection] = useState("");
  const [username, setUsername] = useState("");
  const [staff, setStaff] = useState(false);

  useEffect(() => {
    if (started.current || !outlet.current) return;
    started.current = true;
    startRouter(outlet.current, routes, (s) => setSection(navSection(s)));
  }, [routes]);

  useEffect(() => {
    api.me().then(
      (me) => {
        setUsername(me.username);
        setStaff(me.is_staff);
      },
      (err: unknown) => {
        // The session expired or was never there: to Django's sign-in form, and back here after.
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) toSignIn();
      },
    );
  }, []);

  return (
    <>
      <header className="topbar">
        <a className="brand" href="#/datasets">
          AutoML console
        </a>
        <nav>
          {NAV.map(([key, label]) => (
            <a
              key={key}
              id={`nav-${key}`}
              href={`#/${key}`}
              className={key === section ? "active" : undefined}
              aria-current={key === section ? "page" : undefined}
            >
              {label}
            </a>
          ))}
        </nav>
        <div className="user">
          <span id="whoami">{username}</span>
          {/* Managers edit every user's models and deployments in Django's admin. */}
          {staff && (
            <a id="nav-admin" href="/admin/">
              Admin
            </a>
          )}
          <SignOut />
        </div>
      </header>
      <main id="view" ref={outlet} />
    </>
  );
}
