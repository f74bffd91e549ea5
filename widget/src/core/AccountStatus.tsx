// The CRM account's binding as the settings pages show it: which branch, how many approved
// templates, the other branches of the network. Loads `context` without a lead.
import { useEffect, useState } from "preact/hooks";
import { errorText } from "./LeadPanel.js";
import type { PanelStrings } from "./strings.js";
import { PANEL_ROOT_CLASS } from "./styles.js";
import type { PanelApi, PanelContext } from "./types.js";

export interface AccountStatusProps {
  api: PanelApi;
  strings: PanelStrings;
  /** Compact: one line (the install/settings modal). */
  compact?: boolean;
  /** Changes whenever the binding may have changed (e.g. after saving a new key): reloads. */
  revision?: number;
}

export function AccountStatus(p: AccountStatusProps) {
  const t = p.strings;
  const [ctx, setCtx] = useState<PanelContext | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    p.api.request<PanelContext>("GET", "context").then(
      (c) => {
        if (!alive) return;
        setCtx(c);
        setError(null);
      },
      (err: unknown) => {
        if (alive) setError(errorText(err, t.loadFailed));
      },
    );
    return () => {
      alive = false;
    };
  }, [p.api, p.revision, t]);

  let body;
  if (error) {
    body = (
      <div class="blw-error" role="alert" data-testid="account-error">
        {error}
      </div>
    );
  } else if (!ctx) {
    body = <div class="blw-muted">{t.loading}</div>;
  } else if (!ctx.bound) {
    body = (
      <div class="blw-muted" data-testid="account-not-bound">
        {p.compact ? t.notBoundShort : t.notBound}
      </div>
    );
  } else {
    const approved = ctx.templates?.length ?? 0;
    body = (
      <>
        <div data-testid="account-branch">
          <span class="blw-muted">{t.boundTo} </span>
          <b>{ctx.branch.name}</b>
          <span class="blw-code">{ctx.branch.code}</span>
        </div>
        {!p.compact && (
          <>
            <div class="blw-small">
              <span class="blw-muted">{t.approvedTemplates} </span>
              <b data-testid="account-templates">{approved}</b>
            </div>
            {(ctx.branches?.length ?? 0) > 0 && (
              <div class="blw-small">
                <span class="blw-muted">{t.otherBranches} </span>
                {ctx.branches!.map((b) => b.name).join(", ")}
              </div>
            )}
          </>
        )}
      </>
    );
  }
  return (
    <div class={`${PANEL_ROOT_CLASS}__status`} data-testid="account-status">
      {body}
    </div>
  );
}
