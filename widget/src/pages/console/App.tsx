// Root of the console: admin-token login, then the sections behind a tab bar (hash routes).
import type { VNode } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { AdminApi, UnauthorizedError, loadToken, saveToken } from "./api.js";
import { Analytics } from "./Analytics.js";
import { Branches } from "./Branches.js";
import { Campaigns } from "./Campaigns.js";
import { DeadLetters } from "./DeadLetters.js";
import { Flows } from "./Flows.js";
import { Operators } from "./Operators.js";
import { Routing } from "./Routing.js";
import { I18nContext, LANG_STORAGE, initialLang, strings, useI18n, type Lang, type Strings } from "./strings.js";
import { Templates } from "./Templates.js";
import { errorText } from "./ui.js";

export interface SectionProps {
  api: AdminApi;
}

/** The console's sections, in tab order (`id` is the hash route: #/campaigns). */
const SECTIONS: { id: string; label: (t: Strings) => string; render: (p: SectionProps) => VNode }[] = [
  { id: "branches", label: (t) => t.navBranches, render: (p) => <Branches {...p} /> },
  { id: "routing", label: (t) => t.navRouting, render: (p) => <Routing {...p} /> },
  { id: "campaigns", label: (t) => t.navCampaigns, render: (p) => <Campaigns {...p} /> },
  { id: "flows", label: (t) => t.navFlows, render: (p) => <Flows {...p} /> },
  { id: "operators", label: (t) => t.navOperators, render: (p) => <Operators {...p} /> },
  { id: "templates", label: (t) => t.navTemplates, render: (p) => <Templates {...p} /> },
  { id: "dead-letters", label: (t) => t.navDeadLetters, render: (p) => <DeadLetters {...p} /> },
  { id: "analytics", label: (t) => t.navAnalytics, render: (p) => <Analytics {...p} /> },
];

function sectionFromHash(): string {
  const id = location.hash.replace(/^#\/?/, "");
  return SECTIONS.some((s) => s.id === id) ? id : SECTIONS[0]!.id;
}

type Phase = { kind: "checking"; token: string } | { kind: "login"; error: string | null } | { kind: "ready"; token: string };

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(LANG_STORAGE, l);
    } catch {
      /* storage disabled */
    }
  }, []);
  const i18n = useMemo(() => ({ t: strings[lang], lang, setLang }), [lang, setLang]);
  const t = i18n.t;

  const [phase, setPhase] = useState<Phase>(() => {
    const token = loadToken();
    return token ? { kind: "checking", token } : { kind: "login", error: null };
  });

  const signIn = useCallback(
    async (token: string) => {
      try {
        await new AdminApi(token).branches();
        saveToken(token);
        setPhase({ kind: "ready", token });
      } catch (err) {
        if (err instanceof UnauthorizedError) {
          saveToken(null);
          setPhase({ kind: "login", error: strings[lang].invalidToken });
        } else setPhase({ kind: "login", error: errorText(err, strings[lang]) });
      }
    },
    [lang],
  );

  useEffect(() => {
    if (phase.kind === "checking") void signIn(phase.token);
    // Only on mount: later checks are started by the login form.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = t.appTitle;
  }, [lang, t]);

  const logout = useCallback(
    (reason?: "unauthorized") => {
      saveToken(null);
      setPhase({ kind: "login", error: reason === "unauthorized" ? t.invalidToken : null });
    },
    [t],
  );

  return (
    <I18nContext.Provider value={i18n}>
      {phase.kind === "ready" ? (
        <Shell token={phase.token} onLogout={logout} />
      ) : (
        <Login
          busy={phase.kind === "checking"}
          error={phase.kind === "login" ? phase.error : null}
          onSubmit={(token) => {
            setPhase({ kind: "checking", token });
            void signIn(token);
          }}
        />
      )}
    </I18nContext.Provider>
  );
}

function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <select class="cx-input" style="width:auto" aria-label={t.language} data-testid="lang-switch" value={lang} onChange={(e) => setLang(e.currentTarget.value as Lang)}>
      <option value="en">EN</option>
      <option value="ru">RU</option>
    </select>
  );
}

function Shell(props: { token: string; onLogout: (reason?: "unauthorized") => void }) {
  const { t } = useI18n();
  const [section, setSection] = useState(sectionFromHash);
  const ended = useRef(false);
  const { onLogout } = props;
  const api = useMemo(
    () =>
      new AdminApi(props.token, () => {
        if (ended.current) return;
        ended.current = true;
        onLogout("unauthorized");
      }),
    [props.token, onLogout],
  );

  useEffect(() => {
    const onHash = () => setSection(sectionFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const current = SECTIONS.find((s) => s.id === section) ?? SECTIONS[0]!;
  return (
    <>
      <header class="cx-top">
        <div class="cx-top-row">
          <div class="cx-brand">
            <span class="cx-logo" aria-hidden="true">
              B
            </span>
            {t.appTitle}
          </div>
          <LangSwitch />
          <button type="button" class="cx-btn cx-btn-ghost" data-testid="logout" onClick={() => onLogout()}>
            {t.logout}
          </button>
        </div>
        <nav class="cx-nav" aria-label="sections">
          {SECTIONS.map((s) => (
            <a key={s.id} href={`#/${s.id}`} data-testid={`nav-${s.id}`} aria-current={s.id === current.id ? "page" : undefined}>
              {s.label(t)}
            </a>
          ))}
        </nav>
      </header>
      <main class="cx-main" data-testid={`section-${current.id}`}>
        {current.render({ api })}
      </main>
    </>
  );
}

function Login(props: { busy: boolean; error: string | null; onSubmit: (token: string) => void }) {
  const { t } = useI18n();
  const [value, setValue] = useState("");
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (!props.busy) input.current?.focus();
  }, [props.busy, props.error]);
  const submit = (e: Event) => {
    e.preventDefault();
    const token = value.trim();
    if (token && !props.busy) props.onSubmit(token);
  };
  return (
    <div class="cx-center">
      <form class="cx-card cx-login" onSubmit={submit} autocomplete="off">
        <div class="cx-head">
          <div class="cx-brand" style="flex:1">
            <span class="cx-logo" aria-hidden="true">
              B
            </span>
            Branchline
          </div>
          <LangSwitch />
        </div>
        <h1>{t.loginTitle}</h1>
        <p class="cx-muted">{t.loginHint}</p>
        {props.error && (
          <p class="cx-error" role="alert" data-testid="login-error">
            {props.error}
          </p>
        )}
        <label class="cx-field">
          <span>{t.tokenLabel}</span>
          <input
            ref={input}
            class="cx-input"
            type="password"
            name="admin-token"
            autocomplete="off"
            spellcheck={false}
            data-testid="token-input"
            value={value}
            disabled={props.busy}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </label>
        <button class="cx-btn cx-btn-block" type="submit" data-testid="login-button" disabled={props.busy || !value.trim()}>
          {props.busy ? t.loggingIn : t.loginButton}
        </button>
      </form>
    </div>
  );
}
