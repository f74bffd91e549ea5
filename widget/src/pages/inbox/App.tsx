// Root of the inbox page: key check / login form, then the inbox itself.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { InboxApi, NetworkError, UnauthorizedError, loadKey, saveKey } from "./api.js";
import { Inbox } from "./Inbox.js";
import { t } from "./strings.js";
import type { Branch } from "./types.js";

type Phase =
  | { kind: "checking"; key: string }
  | { kind: "login"; error: string | null; key: string }
  | { kind: "ready"; key: string; branch: Branch };

function initialPhase(): Phase {
  const key = loadKey();
  return key ? { kind: "checking", key } : { kind: "login", error: null, key: "" };
}

export function App() {
  const [phase, setPhase] = useState<Phase>(initialPhase);

  const signIn = useCallback(async (key: string): Promise<void> => {
    const api = new InboxApi(key);
    try {
      const me = await api.me();
      saveKey(key);
      setPhase({ kind: "ready", key, branch: me.branch });
    } catch (err) {
      if (err instanceof UnauthorizedError) {
        saveKey(null);
        setPhase({ kind: "login", error: t.invalidKey, key: "" });
      } else {
        const msg = err instanceof NetworkError ? t.networkError : `${t.networkError} (${(err as Error).message})`;
        setPhase({ kind: "login", error: msg, key });
      }
    }
  }, []);

  useEffect(() => {
    if (phase.kind === "checking") void signIn(phase.key);
    // Only on mount: later "checking" phases are driven by the login form.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const logout = useCallback((reason?: "unauthorized") => {
    saveKey(null);
    setPhase({ kind: "login", error: reason === "unauthorized" ? t.invalidKey : null, key: "" });
  }, []);

  useEffect(() => {
    if (phase.kind !== "ready") document.title = t.appTitle;
  }, [phase.kind]);

  if (phase.kind === "ready") {
    return <Inbox key={phase.key} apiKey={phase.key} branch={phase.branch} onLogout={logout} />;
  }
  return (
    <Login
      busy={phase.kind === "checking"}
      error={phase.kind === "login" ? phase.error : null}
      initialKey={phase.key}
      onSubmit={(key) => {
        setPhase({ kind: "checking", key });
        void signIn(key);
      }}
    />
  );
}

function Login(props: {
  busy: boolean;
  error: string | null;
  initialKey: string;
  onSubmit: (key: string) => void;
}) {
  const [value, setValue] = useState(props.initialKey);
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!props.busy) inputRef.current?.focus();
  }, [props.busy, props.error]);

  const submit = (e: Event) => {
    e.preventDefault();
    const key = value.trim();
    if (!key || props.busy) return;
    props.onSubmit(key);
  };

  return (
    <div class="bl-center">
      <form class="bl-card" onSubmit={submit} autocomplete="off">
        <div class="bl-brand">
          <span class="bl-logo" aria-hidden="true">
            B
          </span>
          Branchline
        </div>
        <h1>{t.loginTitle}</h1>
        <p class="bl-muted">{t.loginHint}</p>
        {props.error && (
          <p class="bl-error" role="alert" data-testid="login-error">
            {props.error}
          </p>
        )}
        <label class="bl-field">
          <span>{t.keyLabel}</span>
          <input
            ref={inputRef}
            class="bl-input"
            type="password"
            name="branch-key"
            autocomplete="off"
            spellcheck={false}
            placeholder={t.keyPlaceholder}
            data-testid="key-input"
            value={value}
            disabled={props.busy}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </label>
        <button
          class="bl-btn bl-btn-block"
          type="submit"
          data-testid="login-button"
          disabled={props.busy || !value.trim()}
        >
          {props.busy ? t.loggingIn : t.loginButton}
        </button>
      </form>
    </div>
  );
}
