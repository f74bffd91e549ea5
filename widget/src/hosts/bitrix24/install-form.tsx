// The installer page inside Bitrix24: asks for the branch key, binds the portal (the backend then
// registers the connector, events, card tabs and robot) and finishes the installation.
import { useState } from "preact/hooks";
import type { B24InstallStrings } from "./strings.js";

export interface InstallFormProps {
  strings: B24InstallStrings;
  /** Bound branch before this visit, if any. */
  branch?: { name: string; code: string };
  /** Posts the key; resolves with the bound branch's name or rejects with a message to show. */
  register(branchKey: string): Promise<string>;
  /** `installFinish` when Bitrix24 opened the page as the installer. */
  finish(): Promise<void>;
}

export function InstallForm(p: InstallFormProps) {
  const t = p.strings;
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    if (!key.trim()) {
      setResult({ ok: false, text: t.keyRequired });
      return;
    }
    setBusy(true);
    setResult(null);
    try {
      const name = await p.register(key.trim());
      await p.finish();
      setResult({ ok: true, text: t.done.replace("{name}", name) });
    } catch (err) {
      setResult({ ok: false, text: err instanceof Error && err.message ? err.message : t.failed });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="blw-section" onSubmit={submit} data-testid="install-form">
      <h2 style="margin:0 0 8px;font-size:18px">{t.title}</h2>
      {p.branch && (
        <p class="blw-muted" data-testid="install-current">
          {t.current} <b>{p.branch.name}</b> <span class="blw-code">{p.branch.code}</span>
        </p>
      )}
      <label class="blw-label" for="blw-branch-key">
        {t.keyLabel}
      </label>
      <input id="blw-branch-key" class="blw-input" type="password" autocomplete="off" data-testid="branch-key" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
      <p class="blw-muted blw-small">{t.hint}</p>
      <button type="submit" class="blw-btn" data-testid="install-submit" disabled={busy}>
        {busy ? t.saving : t.save}
      </button>
      {result && (
        <div class={result.ok ? "blw-ok" : "blw-error"} role={result.ok ? "status" : "alert"} data-testid="install-result">
          {result.text}
        </div>
      )}
    </form>
  );
}
