/**
 * The routing ladder: which branch an inbound WhatsApp message goes to, and why.
 *
 * Pure: no I/O, no clock (`now` is passed in), no imports of other project modules. The caller looks up
 * everything the ladder needs (the customer's binding, the branch that sent the quoted message, which
 * CRMs know the phone) and acts on the decision (deliver, bind, unbind, send the menu). A caller that
 * routes many messages over one branch set prepares it once (`prepareBranches`) and passes that in:
 * the cost of a message then does not grow with the number of branches.
 *
 * The ladder — the first rule that decides wins:
 *
 * 0. change request  — the text contains one of `changeBranchPhrases` → ask with the menu (caller unbinds)
 * 1. reply context   — the quoted message was sent by an enabled branch
 * 2. menu reply      — `branch:<id>`, `city:<city>`, `menu:page:<n>[:city:<city>]` from our list/button
 * 3. open binding    — bound to an enabled branch and the last activity is younger than the TTL
 * 4. ad referral, explicit code, keyword (in that order; each one alone decides only when exactly one
 *    enabled branch matches — a tie falls through and is mentioned in the final reason)
 * 5. CRM owner       — exactly one enabled branch's CRM knows the phone
 * 6. menu            — menu on, ≥ 2 enabled branches, not already waiting for a choice → ask
 * 7. HQ fallback     — the enabled HQ branch, else the first enabled branch by menu order / name
 *
 * Rules 1, 3 and 4 keep the order of docs/architecture.md ("reply context → open dialog → explicit
 * code"): a branch code typed by a customer who has an open binding does NOT move them — the binding
 * wins and the decision carries an `overridden` note saying which branch the code pointed to. The
 * customer moves by sending a change phrase ("сменить филиал", "change branch"). A menu reply (rule 2)
 * is the customer's answer to our own question, so it is checked before the binding.
 *
 * @see ../../../docs/architecture.md "Routing ladder" (shared docs)
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages
 */

// ───────────────────────────────────────────── types ─────────────────────────────────────────────

export type RuleName =
  | "reply_context"
  | "open_binding"
  | "explicit_code"
  | "keyword"
  | "ad_referral"
  | "menu_reply"
  | "crm_owner"
  | "menu"
  | "hq_fallback"
  | "change_request";

export type Lang = "ru" | "en";

export interface RoutingBranch {
  id: string;
  code: string;
  name: string;
  city?: string;
  enabled: boolean;
  isHq: boolean;
  keywords: string[];
  adSourceIds: string[];
  menuOrder?: number;
  menuTitle?: string;
}

export interface RoutingSettings {
  /** How long a binding stays open after the last activity. Default 30 days. */
  bindingTtlMs: number;
  /** Phrases (ru and en) that ask for another branch; matched case-insensitively as whole words. */
  changeBranchPhrases: string[];
  /** Ask the customer to choose when no rule decided (else go straight to HQ). */
  menuEnabled: boolean;
  /** More enabled branches than this (and at least two cities): the menu asks for the city first. */
  menuThreshold: number;
  /**
   * Language of menus: fixed, or `auto` (default) = `RoutingInput.lang`, else the script of the
   * message text (Cyrillic → ru, Latin → en), else ru.
   */
  menuLang?: Lang | "auto";
}

export interface RoutingBinding {
  branchId: string;
  boundAt: number;
  lastActivityAt: number;
  /** The rule that made the binding; the store also binds by `outbound` and `transfer`. */
  rule: RuleName | "outbound" | "transfer";
}

export interface RoutingInput {
  now: number;
  message: {
    text?: string;
    contextMessageId?: string;
    referralSourceId?: string;
    interactiveReplyId?: string;
    buttonPayload?: string;
  };
  /** The network's branches, or the same prepared once by `prepareBranches` (cheaper per message). */
  branches: readonly RoutingBranch[] | PreparedBranches;
  settings: RoutingSettings;
  /** The customer's current binding, if any. */
  binding?: RoutingBinding;
  /** The branch that sent the message `contextMessageId` names (the caller looked it up by wamid). */
  contextBranchId?: string;
  /** Branch ids whose CRM knows this phone (only connectors with that capability answer). */
  crmOwners?: string[];
  /** We already sent the menu and are waiting for a choice. */
  awaitingMenu?: boolean;
  /** The customer's language if the caller knows it (used for menus when `menuLang` is `auto`). */
  lang?: Lang;
}

/** One row of a WhatsApp interactive list. Ids: `branch:<id>`, `city:<city>`, `menu:page:<n>[:city:<city>]`. */
export interface MenuRow {
  id: string;
  /** ≤ 24 characters. */
  title: string;
  /** ≤ 72 characters. */
  description?: string;
}

export interface MenuSection {
  /** ≤ 24 characters. */
  title: string;
  rows: MenuRow[];
}

/**
 * A WhatsApp interactive list (≤ 10 rows in all sections together). Map it onto the Graph payload as
 * `interactive: { type: "list", body: { text: body }, action: { button, sections } }`.
 */
export interface MenuMessage {
  type: "list";
  /** ≤ 4096 characters. */
  body: string;
  /** ≤ 20 characters. */
  button: string;
  sections: MenuSection[];
}

/** Which screen of the menu a `MenuMessage` is. */
export interface MenuView {
  /** `branches`: flat branch list; `cities`: city first; `city`: the branches of one city. */
  stage: "branches" | "cities" | "city";
  city?: string;
  page: number;
  pages: number;
  /** Number of choices on all pages together (cities + city-less branches on the `cities` stage). */
  options: number;
}

/** Sources a rule reads a branch id from; used by notes about ignored branches. */
export type NoteSource =
  | "reply_context"
  | "binding"
  | "menu_reply"
  | "explicit_code"
  | "keyword"
  | "ad_referral"
  | "crm_owner";

export interface BranchRef {
  branchId: string;
  branchName: string;
}

/** Side facts worth telling staff: ties, ignored branches, an expired binding, a code the binding beat. */
export type RoutingNote =
  | {
      type: "ambiguous";
      rule: "explicit_code" | "keyword" | "ad_referral" | "crm_owner";
      /** `token` is the code, keyword or ad id that matched. */
      matches: (BranchRef & { token?: string })[];
    }
  | { type: "ignored_branch"; source: NoteSource; branchId: string; branchName?: string; why: "disabled" | "unknown" }
  | { type: "binding_expired"; branchId: string; branchName: string; lastActivityAt: number }
  | { type: "stale_menu_reply"; replyId: string }
  | {
      type: "overridden";
      rule: "explicit_code" | "keyword" | "ad_referral";
      branchId: string;
      branchName: string;
      token: string;
    }
  | { type: "change_single_branch"; phrase: string };

/** Structured "why", rendered to English for `reason` and to ru/en by `describeDecision`. */
export type Explanation =
  | { rule: "reply_context"; branchName: string }
  | { rule: "open_binding"; branchName: string; boundAt: number; lastActivityAt: number }
  | { rule: "explicit_code"; branchName: string; code: string }
  | { rule: "keyword"; branchName: string; keyword: string }
  | { rule: "ad_referral"; branchName: string; sourceId: string }
  | { rule: "menu_reply"; branchName: string; city?: string }
  | { rule: "crm_owner"; branchName: string }
  | { rule: "hq_fallback"; branchName: string; isHq: boolean; only: boolean; menuIgnored: boolean }
  | {
      rule: "menu";
      trigger: "no_rule" | "city_reply" | "page_reply";
      view: MenuView;
      /** Total enabled branches (the `cities` stage mentions it). */
      branchCount: number;
    }
  | { rule: "change_request"; phrase: string; boundBranchName?: string; view: MenuView }
  | { rule: "unroutable" };

export interface RouteDecision {
  kind: "route";
  branchId: string;
  branchName: string;
  rule: RuleName;
  /** English sentence naming the branch, e.g. "replied to a message sent by Art Play". */
  reason: string;
  /** Create or refresh the customer's binding to `branchId` (false only for `hq_fallback`). */
  bind: boolean;
  explanation: Explanation;
  notes: RoutingNote[];
}

export interface AskDecision {
  kind: "ask";
  rule: "menu" | "change_request";
  reason: string;
  menu: MenuMessage;
  view: MenuView;
  explanation: Explanation;
  notes: RoutingNote[];
}

export interface UnroutableDecision {
  kind: "unroutable";
  reason: string;
  explanation: Explanation;
  notes: RoutingNote[];
}

export type RoutingDecision = RouteDecision | AskDecision | UnroutableDecision;

export interface BuildMenuOptions {
  /** Show this city's branches (ignored when no enabled branch is in that city). */
  city?: string;
  lang?: Lang;
  /** 1-based page; clamped to the pages that exist. */
  page?: number;
  /** `change`: the customer asked for another branch (the body says so). */
  purpose?: "choose" | "change";
}

// ─────────────────────────────────────────── constants ───────────────────────────────────────────

const DAY_MS = 24 * 60 * 60 * 1000;

/** WhatsApp interactive list limits. */
export const MENU_LIMITS = {
  rows: 10,
  rowTitle: 24,
  rowDescription: 72,
  button: 20,
  sectionTitle: 24,
  body: 4096,
} as const;

export function defaultRoutingSettings(): RoutingSettings {
  return {
    bindingTtlMs: 30 * DAY_MS,
    changeBranchPhrases: [
      "сменить филиал",
      "поменять филиал",
      "другой филиал",
      "change branch",
      "switch branch",
      "another branch",
    ],
    menuEnabled: true,
    menuThreshold: 10,
    menuLang: "auto",
  };
}

// ──────────────────────────────────────────── ladder ─────────────────────────────────────────────

/** Decides where an inbound message goes. See the module comment for the ladder. */
export function routeMessage(input: RoutingInput): RoutingDecision {
  const { settings, message } = input;
  const prepared = input.branches instanceof PreparedBranches ? input.branches : new PreparedBranches(input.branches);
  const { byId, enabled } = prepared;
  const notes: RoutingNote[] = [];
  const text = normalizeText(message.text ?? "");
  const lang = pickLang(input);

  if (enabled.length === 0) {
    return finish({ kind: "unroutable", explanation: { rule: "unroutable" }, notes });
  }

  /** The enabled branch with this id, or a note saying why it was skipped. */
  const usable = (id: string, source: NoteSource): RoutingBranch | undefined => {
    const b = byId.get(id);
    if (b?.enabled) return b;
    notes.push(
      b
        ? { type: "ignored_branch", source, branchId: id, branchName: b.name, why: "disabled" }
        : { type: "ignored_branch", source, branchId: id, why: "unknown" },
    );
    return undefined;
  };

  const route = (b: RoutingBranch, explanation: Explanation, bind = true): RoutingDecision =>
    finish({
      kind: "route",
      branchId: b.id,
      branchName: b.name,
      rule: explanation.rule as RuleName,
      bind,
      explanation,
      notes,
    });

  const ask = (
    rule: "menu" | "change_request",
    composed: ComposedMenu,
    explanation: (view: MenuView) => Explanation,
  ): RoutingDecision =>
    finish({ kind: "ask", rule, menu: composed.menu, view: composed.view, explanation: explanation(composed.view), notes });

  // Rule 4 is computed lazily and once: it decides at step 4, and earlier steps use it to note a code
  // or keyword that pointed elsewhere.
  let explicit: ExplicitOutcome | undefined;
  const explicitOutcome = (): ExplicitOutcome =>
    (explicit ??= matchExplicit(prepared, text, message.referralSourceId));
  const noteOverridden = (chosen: RoutingBranch): void => {
    const hit = explicitOutcome().decided;
    if (hit && hit.branch.id !== chosen.id) {
      notes.push({ type: "overridden", rule: hit.rule, branchId: hit.branch.id, branchName: hit.branch.name, token: hit.token });
    }
  };

  // 0. Change request.
  const phrase = findPhrase(text, settings.changeBranchPhrases);
  if (phrase !== undefined) {
    if (enabled.length >= 2) {
      const bound = input.binding ? byId.get(input.binding.branchId) : undefined;
      return ask("change_request", composeMenu(enabled, settings, { lang, purpose: "change" }), (view) => ({
        rule: "change_request",
        phrase,
        view,
        ...(bound ? { boundBranchName: bound.name } : {}),
      }));
    }
    notes.push({ type: "change_single_branch", phrase });
  }

  // 1. Reply context.
  if (input.contextBranchId) {
    const b = usable(input.contextBranchId, "reply_context");
    if (b) {
      noteOverridden(b);
      return route(b, { rule: "reply_context", branchName: b.name });
    }
  }

  // 2. Menu reply (our list rows or button payloads).
  const reply = parseMenuReply(message.interactiveReplyId) ?? parseMenuReply(message.buttonPayload);
  if (reply) {
    if (reply.kind === "branch") {
      const b = usable(reply.branchId, "menu_reply");
      if (b) return route(b, { rule: "menu_reply", branchName: b.name });
    } else if (reply.kind === "city") {
      const inCity = branchesInCity(enabled, reply.city);
      const only = inCity[0];
      if (inCity.length === 1 && only) {
        return route(only, { rule: "menu_reply", branchName: only.name, city: only.city?.trim() ?? reply.city });
      }
      if (inCity.length > 1) {
        return ask("menu", composeMenu(enabled, settings, { lang, city: reply.city }), (view) => ({
          rule: "menu",
          trigger: "city_reply",
          view,
          branchCount: enabled.length,
        }));
      }
      notes.push({ type: "stale_menu_reply", replyId: reply.raw });
    } else {
      const cityKnown = reply.city === undefined || branchesInCity(enabled, reply.city).length > 0;
      if (cityKnown) {
        const opts: BuildMenuOptions & { lang: Lang } = { lang, page: reply.page };
        if (reply.city !== undefined) opts.city = reply.city;
        return ask("menu", composeMenu(enabled, settings, opts), (view) => ({
          rule: "menu",
          trigger: "page_reply",
          view,
          branchCount: enabled.length,
        }));
      }
      notes.push({ type: "stale_menu_reply", replyId: reply.raw });
    }
  }

  // 3. Open binding.
  if (input.binding) {
    const binding = input.binding;
    const b = usable(binding.branchId, "binding");
    if (b) {
      if (input.now - binding.lastActivityAt < settings.bindingTtlMs) {
        noteOverridden(b);
        return route(b, {
          rule: "open_binding",
          branchName: b.name,
          boundAt: binding.boundAt,
          lastActivityAt: binding.lastActivityAt,
        });
      }
      notes.push({ type: "binding_expired", branchId: b.id, branchName: b.name, lastActivityAt: binding.lastActivityAt });
    }
  }

  // 4. Ad referral, explicit code, keyword.
  const outcome = explicitOutcome();
  notes.push(...outcome.notes);
  if (outcome.decided) {
    const { branch, rule, token } = outcome.decided;
    switch (rule) {
      case "ad_referral":
        return route(branch, { rule, branchName: branch.name, sourceId: token });
      case "explicit_code":
        return route(branch, { rule, branchName: branch.name, code: token });
      case "keyword":
        return route(branch, { rule, branchName: branch.name, keyword: token });
    }
  }

  // 5. CRM owner.
  if (input.crmOwners && input.crmOwners.length > 0) {
    const owners: RoutingBranch[] = [];
    for (const id of new Set(input.crmOwners)) {
      const b = usable(id, "crm_owner");
      if (b) owners.push(b);
    }
    const owner = owners[0];
    if (owners.length === 1 && owner) return route(owner, { rule: "crm_owner", branchName: owner.name });
    if (owners.length > 1) {
      notes.push({ type: "ambiguous", rule: "crm_owner", matches: owners.map((b) => ({ branchId: b.id, branchName: b.name })) });
    }
  }

  // 6. Menu.
  if (settings.menuEnabled && enabled.length >= 2 && !input.awaitingMenu) {
    return ask("menu", composeMenu(enabled, settings, { lang }), (view) => ({
      rule: "menu",
      trigger: "no_rule",
      view,
      branchCount: enabled.length,
    }));
  }

  // 7. HQ fallback (never binds: the first reply from HQ binds, and until then a code or a menu
  //    choice can still reach the right branch).
  const hq = prepared.hq ?? enabled[0];
  if (!hq) return finish({ kind: "unroutable", explanation: { rule: "unroutable" }, notes });
  return route(
    hq,
    {
      rule: "hq_fallback",
      branchName: hq.name,
      isHq: hq.isHq,
      only: enabled.length === 1,
      menuIgnored: Boolean(input.awaitingMenu) && settings.menuEnabled && enabled.length >= 2,
    },
    false,
  );
}

type Unfinished<D> = D extends RoutingDecision ? Omit<D, "reason"> : never;

function finish(d: Unfinished<RoutingDecision>): RoutingDecision {
  return { ...d, reason: renderReason(d.explanation, d.notes, "en") } as RoutingDecision;
}

// ───────────────────────────────────── rule 4: explicit match ────────────────────────────────────

type ExplicitRule = "ad_referral" | "explicit_code" | "keyword";

interface ExplicitOutcome {
  decided?: { branch: RoutingBranch; rule: ExplicitRule; token: string };
  /** Ties and disabled-branch matches met on the way. */
  notes: RoutingNote[];
}

function matchExplicit(prepared: PreparedBranches, text: string, referralSourceId: string | undefined): ExplicitOutcome {
  const notes: RoutingNote[] = [];

  const decide = (
    rule: ExplicitRule,
    hits: readonly { branch: RoutingBranch; token: string }[],
  ): ExplicitOutcome["decided"] | undefined => {
    const live: { branch: RoutingBranch; token: string }[] = [];
    for (const h of hits) {
      if (h.branch.enabled) live.push(h);
      else notes.push({ type: "ignored_branch", source: rule, branchId: h.branch.id, branchName: h.branch.name, why: "disabled" });
    }
    const one = live[0];
    if (live.length === 1 && one) return { rule, branch: one.branch, token: one.token };
    if (live.length > 1) {
      notes.push({
        type: "ambiguous",
        rule,
        matches: live.map((h) => ({ branchId: h.branch.id, branchName: h.branch.name, token: h.token })),
      });
    }
    return undefined;
  };

  const ref = referralSourceId?.trim();
  if (ref) {
    const hits = (prepared.ads.get(ref) ?? []).map((branch) => ({ branch, token: ref }));
    const d = decide("ad_referral", hits);
    if (d) return { decided: d, notes };
  }

  if (text) {
    const found = prepared.phrases.findIn(text);
    if (found.length > 0) {
      // Codes and keywords of every branch (disabled ones too: they are noted), in menu order.
      const codeHits: PhraseOwner[] = [];
      const keywordBest = new Map<RoutingBranch, PhraseOwner>();
      for (const phrase of found) {
        for (const o of prepared.codes.get(phrase) ?? []) codeHits.push(o);
        for (const o of prepared.keywords.get(phrase) ?? []) {
          // The longest matching keyword explains best ("маникюр гель-лак" over "маникюр"); among
          // equally long ones, the one listed first.
          const best = keywordBest.get(o.branch);
          if (!best || o.token.length > best.token.length || (o.token.length === best.token.length && o.position < best.position)) keywordBest.set(o.branch, o);
        }
      }
      const d = decide("explicit_code", codeHits.sort(byRank));
      if (d) return { decided: d, notes };
      const k = decide("keyword", [...keywordBest.values()].sort(byRank));
      if (k) return { decided: k, notes };
    }
  }

  return { notes };
}

// ───────────────────────────────────────── prepared branches ─────────────────────────────────────

/** A branch that owns a code or keyword: `token` as configured (trimmed), `rank` in menu order. */
interface PhraseOwner {
  branch: RoutingBranch;
  token: string;
  rank: number;
  /** Position of the keyword in the branch's list (ties between equally long keywords). */
  position: number;
}

const byRank = (a: PhraseOwner, b: PhraseOwner): number => a.rank - b.rank;

/**
 * A branch set prepared for routing: sorted once, its codes, keywords and ad ids in lookup tables.
 * With it a message costs the same for 4 or 400 branches: the text is scanned once for every code
 * and keyword together instead of once per branch. Immutable: build it again when a branch changes
 * and share it between messages. Decisions are the same as with the plain branch list.
 */
export class PreparedBranches {
  /** The first branch of each id. */
  readonly byId: ReadonlyMap<string, RoutingBranch>;
  /** Enabled branches by menu order (unset last), then name, then id. */
  readonly enabled: readonly RoutingBranch[];
  /** The first enabled HQ branch in that order. */
  readonly hq: RoutingBranch | undefined;
  /** Normalised code → branches with that code. */
  readonly codes = new Map<string, PhraseOwner[]>();
  /** Normalised keyword → branches with that keyword. */
  readonly keywords = new Map<string, PhraseOwner[]>();
  /** Trimmed ad source id → branches mapped to it, in menu order. */
  readonly ads = new Map<string, RoutingBranch[]>();
  readonly phrases = new PhraseFinder();

  constructor(branches: readonly RoutingBranch[]) {
    const byId = new Map<string, RoutingBranch>();
    for (const b of branches) if (!byId.has(b.id)) byId.set(b.id, b);
    this.byId = byId;
    const sorted = sortBranches([...byId.values()]);
    this.enabled = sorted.filter((b) => b.enabled);
    this.hq = this.enabled.find((b) => b.isHq);
    const own = (table: Map<string, PhraseOwner[]>, raw: string, owner: Omit<PhraseOwner, "token">) => {
      const token = raw.trim();
      const phrase = normalizeText(token);
      if (!phrase) return;
      this.phrases.add(phrase);
      const list = table.get(phrase);
      if (list) list.push({ ...owner, token });
      else table.set(phrase, [{ ...owner, token }]);
    };
    sorted.forEach((branch, rank) => {
      if (branch.code) own(this.codes, branch.code, { branch, rank, position: 0 });
      (branch.keywords ?? []).forEach((k, position) => own(this.keywords, k, { branch, rank, position }));
      for (const id of new Set((branch.adSourceIds ?? []).map((a) => a.trim()))) {
        const list = this.ads.get(id);
        if (list) list.push(branch);
        else this.ads.set(id, [branch]);
      }
    });
  }
}

/** Branches prepared once for many `routeMessage` calls (see `PreparedBranches`). */
export function prepareBranches(branches: readonly RoutingBranch[]): PreparedBranches {
  return new PreparedBranches(branches);
}

interface TrieNode {
  next: Map<string, TrieNode>;
  /** The phrase that ends here. */
  phrase?: string;
}

/**
 * Finds which of many normalised phrases occur in a normalised text as whole words — the same
 * test as `containsPhrase` (no word character right before or after), for all phrases in one
 * pass over the text (a character trie walked from every word start).
 */
class PhraseFinder {
  private readonly root: TrieNode = { next: new Map() };

  add(phrase: string): void {
    let node = this.root;
    // By UTF-16 unit, like the walk over the text.
    for (let i = 0; i < phrase.length; i++) {
      const unit = phrase[i]!;
      let child = node.next.get(unit);
      if (!child) node.next.set(unit, (child = { next: new Map() }));
      node = child;
    }
    node.phrase = phrase;
  }

  /** Phrases found in `text` (normalised), each once. */
  findIn(text: string): string[] {
    const found = new Set<string>();
    if (this.root.next.size === 0) return [];
    for (let i = 0; i < text.length; i++) {
      // A match starts on a code point (never inside a surrogate pair) with no word character before it.
      if (i > 0 && (isPairAt(text, i - 1) || isWordCodePoint(codePointBefore(text, i)))) continue;
      let node: TrieNode | undefined = this.root;
      for (let j = i; j < text.length; j++) {
        node = node.next.get(text[j]!);
        if (!node) break;
        if (node.phrase !== undefined && !isPairAt(text, j) && (j + 1 === text.length || !isWordCodePoint(text.codePointAt(j + 1)!))) {
          found.add(node.phrase);
        }
      }
    }
    return [...found];
  }
}

/** True when `s[i]` and `s[i + 1]` are one surrogate pair. */
function isPairAt(s: string, i: number): boolean {
  const hi = s.charCodeAt(i);
  const lo = s.charCodeAt(i + 1);
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff;
}

function codePointBefore(s: string, i: number): number {
  return i >= 2 && isPairAt(s, i - 2) ? s.codePointAt(i - 2)! : s.charCodeAt(i - 1);
}

/** One character of the `WORD_CHAR` class. */
const WORD_CHAR_RE = /^[\p{L}\p{M}\p{N}_]$/u;
const wordCache = new Map<number, boolean>();

function isWordCodePoint(cp: number): boolean {
  let w = wordCache.get(cp);
  if (w === undefined) {
    w = WORD_CHAR_RE.test(String.fromCodePoint(cp));
    if (wordCache.size < 65_536) wordCache.set(cp, w);
  }
  return w;
}

// ──────────────────────────────────────── text matching ──────────────────────────────────────────

/** A "word" character: letters (any script), combining marks, digits, underscore. */
const WORD_CHAR = "[\\p{L}\\p{M}\\p{N}_]";

/** Lower case, ё→е, NFC, one space between words. Text and patterns are normalised the same way. */
function normalizeText(s: string): string {
  return s.normalize("NFC").toLowerCase().replace(/ё/g, "е").replace(/\s+/gu, " ").trim();
}

function escapeRegExp(s: string): string {
  // Only syntax characters: in `u` mode escaping anything else (e.g. "-") is a SyntaxError.
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

const phraseCache = new Map<string, RegExp>();

/** True when `phrase` occurs in the (normalised) text as whole words, e.g. "арт" not in "артист". */
function containsPhrase(normalizedText: string, phrase: string): boolean {
  const p = normalizeText(phrase);
  if (!p) return false;
  let re = phraseCache.get(p);
  if (!re) {
    const body = p.split(" ").map(escapeRegExp).join("\\s+");
    re = new RegExp(`(?<!${WORD_CHAR})${body}(?!${WORD_CHAR})`, "u");
    if (phraseCache.size > 5000) phraseCache.clear();
    phraseCache.set(p, re);
  }
  return re.test(normalizedText);
}

/** The first phrase (as configured) found in the text. */
function findPhrase(normalizedText: string, phrases: readonly string[]): string | undefined {
  if (!normalizedText) return undefined;
  return phrases.map((p) => p.trim()).find((p) => p && containsPhrase(normalizedText, p));
}

function pickLang(input: RoutingInput): Lang {
  const fixed = input.settings.menuLang;
  if (input.lang) return input.lang;
  if (fixed === "ru" || fixed === "en") return fixed;
  const text = input.message.text ?? "";
  if (/\p{Script=Cyrillic}/u.test(text)) return "ru";
  if (/\p{Script=Latin}/u.test(text)) return "en";
  return "ru";
}

// ─────────────────────────────────────────── menu ids ────────────────────────────────────────────

type MenuReply =
  | { kind: "branch"; branchId: string; raw: string }
  | { kind: "city"; city: string; raw: string }
  | { kind: "page"; page: number; city?: string; raw: string };

const PAGE_ID = /^menu:page:(\d{1,6})(?::city:(.+))?$/su;

function parseMenuReply(id: string | undefined): MenuReply | undefined {
  const raw = id?.trim();
  if (!raw) return undefined;
  if (raw.startsWith("branch:")) {
    const branchId = raw.slice("branch:".length);
    return branchId ? { kind: "branch", branchId, raw } : undefined;
  }
  if (raw.startsWith("city:")) {
    const city = raw.slice("city:".length).trim();
    return city ? { kind: "city", city, raw } : undefined;
  }
  const m = PAGE_ID.exec(raw);
  if (m?.[1]) {
    const city = m[2]?.trim();
    return city ? { kind: "page", page: Number(m[1]), city, raw } : { kind: "page", page: Number(m[1]), raw };
  }
  return undefined;
}

const pageId = (n: number, city?: string): string => (city === undefined ? `menu:page:${n}` : `menu:page:${n}:city:${city}`);

// ──────────────────────────────────────────── menus ──────────────────────────────────────────────

/**
 * The menu for these branches (disabled ones are left out). Up to `menuThreshold` enabled branches (or
 * when they are all in one city): the branches. More: the cities first (`city:<city>` rows; branches
 * without a city follow as `branch:` rows). With `opts.city`: that city's branches. Any list longer
 * than 10 rows is paginated: 9 choices + a "More…" row `menu:page:<n>` (`menu:page:<n>:city:<city>`
 * inside a city); the last page ends with a "Back to start" row pointing to page 1.
 *
 * @throws RangeError when no branch is enabled (a list needs at least one row).
 */
export function buildMenu(branches: RoutingBranch[], settings: RoutingSettings, opts: BuildMenuOptions = {}): MenuMessage {
  const enabled = sortBranches(branches.filter((b) => b.enabled));
  if (enabled.length === 0) throw new RangeError("buildMenu: no enabled branch to offer");
  const fixed = settings.menuLang === "ru" || settings.menuLang === "en" ? settings.menuLang : undefined;
  return composeMenu(enabled, settings, { ...opts, lang: opts.lang ?? fixed ?? "ru" }).menu;
}

interface ComposedMenu {
  menu: MenuMessage;
  view: MenuView;
}

interface Choice {
  row: MenuRow;
  /** Section the row belongs to. */
  section: string;
}

/** `enabled` must be sorted and non-empty. */
function composeMenu(
  enabled: readonly RoutingBranch[],
  settings: RoutingSettings,
  opts: BuildMenuOptions & { lang: Lang },
): ComposedMenu {
  const t = TEXT[opts.lang];
  const intro = opts.purpose === "change" ? t.changeIntro : "";
  const page = opts.page ?? 1;

  if (opts.city !== undefined) {
    const inCity = branchesInCity(enabled, opts.city);
    const first = inCity[0];
    if (first?.city !== undefined) {
      const city = first.city.trim();
      const choices = inCity.map((b) => ({ row: branchRow(b, false), section: city }));
      const p = paginate(choices, page, (n) => pageId(n, city), t);
      return {
        menu: list(`${intro}${t.cityBody(city)}${pageSuffix(p, t)}`, t.chooseBranch, p.sections),
        view: { stage: "city", city, page: p.page, pages: p.pages, options: inCity.length },
      };
    }
  }

  const cities = cityGroups(enabled);
  if (enabled.length > settings.menuThreshold && cities.length >= 2) {
    const cityless = enabled.filter((b) => !b.city?.trim());
    const choices: Choice[] = [
      ...cities.map((c) => ({
        row: { id: `city:${c.name}`, title: c.name, description: t.branchCount(c.branches.length) },
        section: t.citiesSection,
      })),
      ...cityless.map((b) => ({ row: branchRow(b, false), section: t.otherSection })),
    ];
    const p = paginate(choices, page, (n) => pageId(n), t);
    return {
      menu: list(`${intro}${t.citiesBody}${pageSuffix(p, t)}`, t.chooseCity, p.sections),
      view: { stage: "cities", page: p.page, pages: p.pages, options: choices.length },
    };
  }

  const choices = enabled.map((b) => ({ row: branchRow(b, true), section: t.branchesSection }));
  const p = paginate(choices, page, (n) => pageId(n), t);
  return {
    menu: list(`${intro}${t.branchesBody}${pageSuffix(p, t)}`, t.chooseBranch, p.sections),
    view: { stage: "branches", page: p.page, pages: p.pages, options: choices.length },
  };
}

function list(body: string, button: string, sections: MenuSection[]): MenuMessage {
  return {
    type: "list",
    body: truncate(body, MENU_LIMITS.body),
    button: truncate(button, MENU_LIMITS.button),
    sections: sections.map((s) => ({
      title: truncate(s.title, MENU_LIMITS.sectionTitle),
      rows: s.rows.map((r) => {
        const row: MenuRow = { id: r.id, title: truncate(r.title, MENU_LIMITS.rowTitle) };
        const description = r.description?.trim();
        if (description) row.description = truncate(description, MENU_LIMITS.rowDescription);
        return row;
      }),
    })),
  };
}

function branchRow(b: RoutingBranch, withCity: boolean): MenuRow {
  const title = b.menuTitle?.trim() || b.name.trim() || b.code.trim() || b.id;
  const city = b.city?.trim();
  return withCity && city ? { id: `branch:${b.id}`, title, description: city } : { id: `branch:${b.id}`, title };
}

interface Page {
  sections: MenuSection[];
  page: number;
  pages: number;
}

function paginate(choices: Choice[], page: number, idFor: (n: number) => string, t: Texts): Page {
  let slice = choices;
  let nav: MenuRow | undefined;
  let current = 1;
  let pages = 1;
  if (choices.length > MENU_LIMITS.rows) {
    const per = MENU_LIMITS.rows - 1;
    pages = Math.ceil(choices.length / per);
    current = Math.min(Math.max(Number.isFinite(page) ? Math.trunc(page) : 1, 1), pages);
    slice = choices.slice((current - 1) * per, current * per);
    nav =
      current < pages
        ? { id: idFor(current + 1), title: t.more, description: t.pageOf(current + 1, pages) }
        : { id: idFor(1), title: t.backToStart, description: t.pageOf(1, pages) };
  }
  const sections: MenuSection[] = [];
  for (const c of slice) {
    const last = sections[sections.length - 1];
    if (last && last.title === c.section) last.rows.push(c.row);
    else sections.push({ title: c.section, rows: [c.row] });
  }
  const lastSection = sections[sections.length - 1];
  if (nav && lastSection) lastSection.rows.push(nav);
  return { sections, page: current, pages };
}

const pageSuffix = (p: Page, t: Texts): string => (p.pages > 1 ? t.pageSuffix(p.page, p.pages) : "");

// ─────────────────────────────────────── branch ordering ─────────────────────────────────────────

const collator = new Intl.Collator("en", { sensitivity: "base", numeric: true });

/** By `menuOrder` (unset last), then name, then id. */
function sortBranches(branches: readonly RoutingBranch[]): RoutingBranch[] {
  return [...branches].sort(
    (a, b) =>
      (a.menuOrder ?? Number.POSITIVE_INFINITY) - (b.menuOrder ?? Number.POSITIVE_INFINITY) ||
      collator.compare(a.name, b.name) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

function cityKey(city: string): string {
  return normalizeText(city);
}

function branchesInCity(enabled: readonly RoutingBranch[], city: string): RoutingBranch[] {
  const key = cityKey(city);
  return enabled.filter((b) => b.city !== undefined && b.city.trim() !== "" && cityKey(b.city) === key);
}

/** Cities of sorted branches, ordered by their smallest `menuOrder`, then by name. */
function cityGroups(enabled: readonly RoutingBranch[]): { name: string; branches: RoutingBranch[]; order: number }[] {
  const groups = new Map<string, { name: string; branches: RoutingBranch[]; order: number }>();
  for (const b of enabled) {
    const name = b.city?.trim();
    if (!name) continue;
    const key = cityKey(name);
    const g = groups.get(key);
    const order = b.menuOrder ?? Number.POSITIVE_INFINITY;
    if (g) {
      g.branches.push(b);
      g.order = Math.min(g.order, order);
    } else groups.set(key, { name, branches: [b], order });
  }
  return [...groups.values()].sort((a, b) => a.order - b.order || collator.compare(a.name, b.name));
}

// ────────────────────────────────────────── truncation ───────────────────────────────────────────

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Collapses whitespace and cuts to at most `max` UTF-16 units (so also ≤ max characters) on a
 * grapheme boundary — never inside an emoji or a surrogate pair — ending with "…".
 */
export function truncate(s: string, max: number): string {
  const clean = s.replace(/\s+/gu, " ").trim();
  if (clean.length <= max) return clean;
  let out = "";
  for (const { segment } of graphemes.segment(clean)) {
    if (out.length + segment.length + 1 > max) break;
    out += segment;
  }
  return `${out.trimEnd()}…`;
}

// ─────────────────────────────────────────── wording ─────────────────────────────────────────────

interface Texts {
  branchesBody: string;
  citiesBody: string;
  cityBody: (city: string) => string;
  changeIntro: string;
  pageSuffix: (page: number, pages: number) => string;
  chooseBranch: string;
  chooseCity: string;
  branchesSection: string;
  citiesSection: string;
  otherSection: string;
  branchCount: (n: number) => string;
  more: string;
  backToStart: string;
  pageOf: (page: number, pages: number) => string;
}

const TEXT: Record<Lang, Texts> = {
  en: {
    branchesBody: "Please choose the branch you would like to contact.",
    citiesBody: "Please choose your city first, then the branch.",
    cityBody: (city) => `Please choose a branch in ${city}.`,
    changeIntro: "Sure, you can switch to another branch. ",
    pageSuffix: (p, n) => ` (page ${p} of ${n})`,
    chooseBranch: "Choose branch",
    chooseCity: "Choose city",
    branchesSection: "Branches",
    citiesSection: "Cities",
    otherSection: "Other branches",
    branchCount: (n) => (n === 1 ? "1 branch" : `${n} branches`),
    more: "More…",
    backToStart: "« Back to start",
    pageOf: (p, n) => `Page ${p} of ${n}`,
  },
  ru: {
    branchesBody: "Выберите филиал, с которым хотите связаться.",
    citiesBody: "Сначала выберите город, затем филиал.",
    cityBody: (city) => `Выберите филиал в городе ${city}.`,
    changeIntro: "Хорошо, можно перейти в другой филиал. ",
    pageSuffix: (p, n) => ` (страница ${p} из ${n})`,
    chooseBranch: "Выбрать филиал",
    chooseCity: "Выбрать город",
    branchesSection: "Филиалы",
    citiesSection: "Города",
    otherSection: "Другие филиалы",
    branchCount: (n) => `Филиалов: ${n}`,
    more: "Ещё…",
    backToStart: "« В начало",
    pageOf: (p, n) => `Страница ${p} из ${n}`,
  },
};

function day(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : "an unknown date";
}

const q = (name: string, lang: Lang): string => (lang === "ru" ? `«${oneLine(name)}»` : oneLine(name));
const oneLine = (s: string): string => s.replace(/\s+/gu, " ").trim();

function renderExplanation(e: Explanation, lang: Lang): string {
  const ru = lang === "ru";
  switch (e.rule) {
    case "reply_context":
      return ru
        ? `клиент ответил на сообщение филиала ${q(e.branchName, lang)}`
        : `replied to a message sent by ${q(e.branchName, lang)}`;
    case "open_binding":
      return ru
        ? `клиент закреплён за ${q(e.branchName, lang)} с ${day(e.boundAt)} (открытый диалог)`
        : `bound to ${q(e.branchName, lang)} since ${day(e.boundAt)} (open dialog)`;
    case "explicit_code":
      return ru
        ? `в тексте есть код филиала ${e.code} (${q(e.branchName, lang)})`
        : `text contains branch code ${e.code} (${q(e.branchName, lang)})`;
    case "keyword":
      return ru
        ? `ключевое слово «${e.keyword}» относится к ${q(e.branchName, lang)}`
        : `keyword '${e.keyword}' belongs to ${q(e.branchName, lang)}`;
    case "ad_referral":
      return ru
        ? `реклама click-to-WhatsApp ${e.sourceId} привязана к ${q(e.branchName, lang)}`
        : `click-to-WhatsApp ad ${e.sourceId} is mapped to ${q(e.branchName, lang)}`;
    case "menu_reply":
      if (e.city !== undefined) {
        return ru
          ? `клиент выбрал в меню город ${e.city}; там только ${q(e.branchName, lang)}`
          : `chose ${e.city} in the menu; ${q(e.branchName, lang)} is the only branch there`;
      }
      return ru ? `клиент выбрал ${q(e.branchName, lang)} в меню` : `chose ${q(e.branchName, lang)} in the menu`;
    case "crm_owner":
      return ru
        ? `CRM филиала ${q(e.branchName, lang)} уже знает этот номер`
        : `${q(e.branchName, lang)}'s CRM already knows this phone`;
    case "hq_fallback": {
      const where = e.isHq
        ? ru
          ? `отправлено в головной офис (${q(e.branchName, lang)})`
          : `sent to HQ (${q(e.branchName, lang)})`
        : e.only
          ? ru
            ? `отправлено в единственный включённый филиал ${q(e.branchName, lang)}`
            : `sent to ${q(e.branchName, lang)}, the only enabled branch`
          : ru
            ? `головной офис не назначен; отправлено в первый филиал ${q(e.branchName, lang)}`
            : `no branch is marked HQ; sent to the first branch, ${q(e.branchName, lang)}`;
      const why = e.menuIgnored
        ? ru
          ? "клиент не выбрал филиал в меню"
          : "the customer did not choose from the menu"
        : ru
          ? "ни одно правило не сработало"
          : "no rule matched";
      return `${why}; ${where}`;
    }
    case "menu": {
      const v = e.view;
      const pageNote = v.pages > 1 ? (ru ? `, страница ${v.page} из ${v.pages}` : `, page ${v.page} of ${v.pages}`) : "";
      if (e.trigger === "page_reply") {
        const of = v.city !== undefined ? (ru ? ` (город ${v.city})` : ` of the ${v.city} menu`) : ru ? "" : " of the menu";
        return ru
          ? `клиент запросил страницу ${v.page} из ${v.pages} меню${of}`
          : `asked for page ${v.page} of ${v.pages}${of}`;
      }
      if (e.trigger === "city_reply") {
        return ru
          ? `клиент выбрал в меню город ${v.city ?? ""}; отправлен список его филиалов (филиалов: ${v.options}${pageNote})`
          : `chose ${v.city ?? ""} in the menu; asked to choose among its ${v.options} branches${pageNote}`;
      }
      if (v.stage === "cities") {
        return ru
          ? `ни одно правило не сработало; клиенту предложено сначала выбрать город (вариантов: ${v.options}, филиалов: ${e.branchCount}${pageNote})`
          : `no rule decided; asked the customer to choose a city first (${v.options} choices, ${e.branchCount} branches${pageNote})`;
      }
      return ru
        ? `ни одно правило не сработало; клиенту отправлено меню выбора филиала (филиалов: ${v.options}${pageNote})`
        : `no rule decided; asked the customer to choose among ${v.options} branches${pageNote}`;
    }
    case "change_request": {
      const bound = e.boundBranchName !== undefined;
      return ru
        ? `клиент попросил сменить филиал («${e.phrase}»); отправлено меню${bound ? `, текущий филиал ${q(e.boundBranchName ?? "", lang)}` : ""}`
        : `the customer asked to change branch ('${e.phrase}'); sent the menu${bound ? ` (currently bound to ${q(e.boundBranchName ?? "", lang)})` : ""}`;
    }
    case "unroutable":
      return ru ? "нет ни одного включённого филиала" : "no branch is enabled; the message cannot be routed";
  }
}

const SOURCE_LABEL: Record<NoteSource, Record<Lang, string>> = {
  reply_context: { en: "reply context", ru: "контекст ответа" },
  binding: { en: "binding", ru: "закрепление" },
  menu_reply: { en: "menu choice", ru: "выбор в меню" },
  explicit_code: { en: "branch code", ru: "код филиала" },
  keyword: { en: "keyword", ru: "ключевое слово" },
  ad_referral: { en: "ad mapping", ru: "привязка рекламы" },
  crm_owner: { en: "CRM ownership", ru: "CRM-владелец" },
};

function renderNote(n: RoutingNote, lang: Lang): string {
  const ru = lang === "ru";
  switch (n.type) {
    case "ambiguous": {
      const names = n.matches.map((m) => q(m.branchName, lang)).join(", ");
      const pairs = n.matches.map((m) => `${n.rule === "keyword" ? (ru ? `«${m.token}»` : `'${m.token}'`) : m.token} → ${q(m.branchName, lang)}`).join(", ");
      switch (n.rule) {
        case "explicit_code":
          return ru
            ? `неоднозначно: в тексте коды нескольких филиалов (${pairs})`
            : `ambiguous: text contains codes of several branches (${pairs})`;
        case "keyword":
          return ru
            ? `неоднозначно: подходят ключевые слова нескольких филиалов (${pairs})`
            : `ambiguous: keywords of several branches match (${pairs})`;
        case "ad_referral":
          return ru
            ? `неоднозначно: реклама ${n.matches[0]?.token ?? ""} привязана к нескольким филиалам (${names})`
            : `ambiguous: ad ${n.matches[0]?.token ?? ""} is mapped to several branches (${names})`;
        case "crm_owner":
          return ru
            ? `неоднозначно: номер знают CRM нескольких филиалов (${names})`
            : `ambiguous: the CRMs of several branches know this phone (${names})`;
      }
      return "";
    }
    case "ignored_branch": {
      const label = SOURCE_LABEL[n.source][lang];
      if (n.why === "disabled") {
        return ru
          ? `пропущено (${label}): филиал ${q(n.branchName ?? n.branchId, lang)} отключён`
          : `ignored ${label} pointing to disabled branch ${q(n.branchName ?? n.branchId, lang)}`;
      }
      return ru
        ? `пропущено (${label}): неизвестный филиал ${n.branchId}`
        : `ignored ${label} pointing to unknown branch ${n.branchId}`;
    }
    case "binding_expired":
      return ru
        ? `закрепление за ${q(n.branchName, lang)} истекло (последняя активность ${day(n.lastActivityAt)})`
        : `the binding to ${q(n.branchName, lang)} expired (last activity ${day(n.lastActivityAt)})`;
    case "stale_menu_reply":
      return ru
        ? `выбор в меню «${n.replyId}» не соответствует ни одному включённому филиалу`
        : `menu choice '${n.replyId}' matches no enabled branch`;
    case "overridden": {
      const what =
        n.rule === "explicit_code"
          ? ru ? `код ${n.token}` : `branch code ${n.token}`
          : n.rule === "keyword"
            ? ru ? `ключевое слово «${n.token}»` : `keyword '${n.token}'`
            : ru ? `реклама ${n.token}` : `ad ${n.token}`;
      return ru
        ? `текст также указывает на ${q(n.branchName, lang)} (${what}), но раньше сработало другое правило; сменить филиал клиент может по запросу`
        : `the message also points to ${q(n.branchName, lang)} (${what}), but an earlier rule decided; the customer can ask to change branch`;
    }
    case "change_single_branch":
      return ru
        ? `клиент попросил сменить филиал («${n.phrase}»), но включён только один филиал`
        : `the customer asked to change branch ('${n.phrase}'), but only one branch is enabled`;
  }
}

function renderReason(e: Explanation, notes: readonly RoutingNote[], lang: Lang): string {
  return [renderExplanation(e, lang), ...notes.map((n) => renderNote(n, lang))].filter(Boolean).join("; ");
}

/** One line for a CRM card, in Russian or English: "Routed to Art Play: replied to a message sent by Art Play". */
export function describeDecision(d: RoutingDecision, lang: Lang): string {
  const reason = renderReason(d.explanation, d.notes, lang);
  switch (d.kind) {
    case "route":
      return lang === "ru" ? `Направлено в ${q(d.branchName, lang)}: ${reason}` : `Routed to ${q(d.branchName, lang)}: ${reason}`;
    case "ask":
      return lang === "ru" ? `Отправлено меню: ${reason}` : `Menu sent: ${reason}`;
    case "unroutable":
      return lang === "ru" ? `Не направлено: ${reason}` : `Not routed: ${reason}`;
  }
}
