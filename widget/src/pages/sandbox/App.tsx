// Sandbox: a simulated customer phone talking to the business number.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { isValidPhone, normalizePhone, sandboxApi } from "./api.js";
import { Chat } from "./Chat.js";
import { t } from "./strings.js";
import type { PhoneEntry } from "./types.js";

const NAMES_KEY = "branchline.sandbox.names";
const HASH_PREFIX = "#/";

function loadNames(): Record<string, string> {
  try {
    const v = JSON.parse(localStorage.getItem(NAMES_KEY) ?? "{}") as unknown;
    return v && typeof v === "object" ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function rememberName(phone: string, name: string): void {
  try {
    const names = loadNames();
    if (name) names[phone] = name;
    else delete names[phone];
    localStorage.setItem(NAMES_KEY, JSON.stringify(names));
  } catch {
    /* storage disabled */
  }
}

function phoneFromHash(): string | null {
  if (!location.hash.startsWith(HASH_PREFIX)) return null;
  const digits = normalizePhone(location.hash.slice(HASH_PREFIX.length));
  return isValidPhone(digits) ? digits : null;
}

interface Session {
  phone: string;
  name: string;
}

export function App() {
  const [session, setSession] = useState<Session | null>(() => {
    const phone = phoneFromHash();
    return phone ? { phone, name: loadNames()[phone] ?? "" } : null;
  });

  useEffect(() => {
    const sync = () => {
      const phone = phoneFromHash();
      setSession((cur) => {
        if (!phone) return null;
        if (cur?.phone === phone) return cur;
        return { phone, name: loadNames()[phone] ?? "" };
      });
    };
    window.addEventListener("hashchange", sync);
    return () => window.removeEventListener("hashchange", sync);
  }, []);

  useEffect(() => {
    document.title = session ? `+${session.phone} · ${t.title}` : t.title;
  }, [session]);

  const open = useCallback((phone: string, name: string) => {
    rememberName(phone, name);
    setSession({ phone, name });
    const target = HASH_PREFIX + phone;
    if (location.hash !== target) location.hash = target;
  }, []);

  const back = useCallback(() => {
    setSession(null);
    history.pushState(null, "", location.pathname + location.search);
  }, []);

  return (
    <div class="sb-stage">
      <div class="sb-phone" data-testid="phone">
        {session ? (
          <Chat key={session.phone} phone={session.phone} name={session.name} onBack={back} />
        ) : (
          <Picker onOpen={open} />
        )}
      </div>
    </div>
  );
}

function Picker(props: { onOpen: (phone: string, name: string) => void }) {
  const [phones, setPhones] = useState<PhoneEntry[] | null>(null);
  const [phone, setPhone] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const phoneRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    sandboxApi.phones(ctrl.signal).then(
      (r) => setPhones(Array.isArray(r?.phones) ? r.phones : []),
      (err: unknown) => {
        if ((err as Error)?.name === "AbortError") return;
        setPhones([]);
        setLoadError((err as Error)?.message ?? String(err));
      },
    );
    phoneRef.current?.focus();
    return () => ctrl.abort();
  }, []);

  const submit = (e: Event) => {
    e.preventDefault();
    const digits = normalizePhone(phone);
    if (!isValidPhone(digits)) {
      setError(t.invalidPhone);
      return;
    }
    props.onOpen(digits, name.trim());
  };

  return (
    <>
      <header class="sb-top">
        <span class="sb-avatar" aria-hidden="true">
          ☎
        </span>
        <div class="sb-top-title">
          <b>
            {t.pickerTitle}
            <span class="sb-badge">{t.sandboxBadge}</span>
          </b>
          <small>{t.title}</small>
        </div>
      </header>
      <div class="sb-picker">
        <p class="sb-muted">{t.pickerHint}</p>
        <form onSubmit={submit} autocomplete="off">
          <label class="sb-field">
            <span>{t.phoneLabel}</span>
            <input
              ref={phoneRef}
              class="sb-input"
              type="tel"
              inputMode="numeric"
              placeholder={t.phonePlaceholder}
              data-testid="phone-input"
              value={phone}
              onInput={(e) => {
                setPhone(e.currentTarget.value);
                setError(null);
              }}
            />
          </label>
          {error && (
            <p class="sb-error" role="alert" data-testid="phone-error">
              {error}
            </p>
          )}
          <label class="sb-field">
            <span>{t.nameLabel}</span>
            <input
              class="sb-input"
              type="text"
              placeholder={t.namePlaceholder}
              data-testid="name-input"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
          <button class="sb-btn" type="submit" data-testid="open-phone">
            {t.open}
          </button>
        </form>
        <h2 class="sb-section-title">{t.recent}</h2>
        {phones === null && <p class="sb-muted">{t.loading}</p>}
        {loadError && <p class="sb-error">{loadError}</p>}
        {phones && phones.length === 0 && !loadError && <p class="sb-muted">{t.noRecent}</p>}
        {phones?.map((p) => (
          <button
            key={p.phone}
            type="button"
            class="sb-recent"
            data-testid="recent-phone"
            data-phone={p.phone}
            onClick={() => props.onOpen(p.phone, p.name ?? loadNames()[p.phone] ?? "")}
          >
            <span class="sb-avatar" aria-hidden="true">
              {(p.name?.trim()[0] ?? "#").toUpperCase()}
            </span>
            <span class="sb-recent-body">
              <b>{p.name?.trim() || `+${p.phone}`}</b>
              {p.name?.trim() && <small>+{p.phone}</small>}
            </span>
          </button>
        ))}
      </div>
    </>
  );
}
