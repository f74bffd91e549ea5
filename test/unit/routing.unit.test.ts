import { describe, expect, it } from "vitest";
import {
  buildMenu,
  defaultRoutingSettings,
  describeDecision,
  routeMessage,
  type MenuMessage,
  type RoutingBinding,
  type RoutingBranch,
  type RoutingDecision,
  type RoutingInput,
  type RoutingSettings,
} from "../../backend/src/domain/routing.js";

// ───────────────────────────────────────── builders ──────────────────────────────────────────

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 20, 12, 0, 0); // 2026-11-20
const BOUND_AT = Date.UTC(2026, 10, 2, 9, 30, 0); // 2026-11-02

function br(id: string, over: Partial<RoutingBranch> = {}): RoutingBranch {
  return { id, code: id.toUpperCase(), name: id, enabled: true, isHq: false, keywords: [], adSourceIds: [], ...over };
}

const HQ = br("hq", { code: "HQ", name: "Persona HQ", isHq: true, city: "Moscow", menuOrder: 1 });
const ART = br("art", {
  code: "ARTPLAY",
  name: "Art Play",
  city: "Moscow",
  keywords: ["арт-пространство", "art space"],
  adSourceIds: ["120226305854810726"],
  menuOrder: 2,
});
const NAILS = br("nails", {
  code: "NAILS",
  name: "Nails Center",
  city: "Moscow",
  keywords: ["маникюр", "manicure"],
  adSourceIds: ["555"],
  menuOrder: 3,
});
const BRANCHES = [HQ, ART, NAILS];
const S = defaultRoutingSettings();
const NO_MENU: RoutingSettings = { ...S, menuEnabled: false };

function inp(over: Partial<RoutingInput> = {}): RoutingInput {
  return { now: NOW, message: {}, branches: BRANCHES, settings: S, ...over };
}

function binding(branchId: string, idleMs = DAY): RoutingBinding {
  return { branchId, boundAt: BOUND_AT, lastActivityAt: NOW - idleMs, rule: "menu_reply" };
}

const disabled = (b: RoutingBranch): RoutingBranch => ({ ...b, enabled: false });
const withBranches = (...bs: RoutingBranch[]): RoutingBranch[] => bs;

/** A compact, comparable summary of a decision. */
function summary(d: RoutingDecision): { kind: string; rule?: string; branchId?: string } {
  if (d.kind === "route") return { kind: d.kind, rule: d.rule, branchId: d.branchId };
  if (d.kind === "ask") return { kind: d.kind, rule: d.rule };
  return { kind: d.kind };
}

/** Every WhatsApp interactive-list limit. */
function expectWithinLimits(menu: MenuMessage): void {
  expect(menu.type).toBe("list");
  expect(menu.button.length).toBeLessThanOrEqual(20);
  expect(menu.body.length).toBeGreaterThan(0);
  expect(menu.body.length).toBeLessThanOrEqual(4096);
  expect(menu.sections.length).toBeGreaterThan(0);
  expect(menu.sections.length).toBeLessThanOrEqual(10);
  const rows = menu.sections.flatMap((s) => s.rows);
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.length).toBeLessThanOrEqual(10);
  expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  for (const s of menu.sections) {
    expect(s.title.length).toBeLessThanOrEqual(24);
    expect(s.rows.length).toBeGreaterThan(0);
  }
  for (const r of rows) {
    expect(r.id.length).toBeLessThanOrEqual(200);
    expect(r.title.length).toBeGreaterThan(0);
    expect(r.title.length).toBeLessThanOrEqual(24);
    if (r.description !== undefined) expect(r.description.length).toBeLessThanOrEqual(72);
  }
}

const rowIds = (m: MenuMessage): string[] => m.sections.flatMap((s) => s.rows.map((r) => r.id));

function asAsk(d: RoutingDecision) {
  if (d.kind !== "ask") throw new Error(`expected ask, got ${d.kind}: ${d.reason}`);
  return d;
}

// ─────────────────────────────────────── every rule decides ──────────────────────────────────

describe("routeMessage: every rule decides", () => {
  it.each<[string, RoutingInput, ReturnType<typeof summary>, string]>([
    [
      "change request",
      inp({ message: { text: "Хочу сменить филиал, пожалуйста" }, binding: binding("art") }),
      { kind: "ask", rule: "change_request" },
      "the customer asked to change branch ('сменить филиал'); sent the menu (currently bound to Art Play)",
    ],
    [
      "reply context",
      inp({ message: { text: "ok", contextMessageId: "wamid.1" }, contextBranchId: "art" }),
      { kind: "route", rule: "reply_context", branchId: "art" },
      "replied to a message sent by Art Play",
    ],
    [
      "menu reply (list)",
      inp({ message: { interactiveReplyId: "branch:nails" }, awaitingMenu: true }),
      { kind: "route", rule: "menu_reply", branchId: "nails" },
      "chose Nails Center in the menu",
    ],
    [
      "menu reply (button payload)",
      inp({ message: { buttonPayload: "branch:art" } }),
      { kind: "route", rule: "menu_reply", branchId: "art" },
      "chose Art Play in the menu",
    ],
    [
      "open binding",
      inp({ message: { text: "hello again" }, binding: binding("art") }),
      { kind: "route", rule: "open_binding", branchId: "art" },
      "bound to Art Play since 2026-11-02 (open dialog)",
    ],
    [
      "ad referral",
      inp({ message: { text: "Hi", referralSourceId: "120226305854810726" } }),
      { kind: "route", rule: "ad_referral", branchId: "art" },
      "click-to-WhatsApp ad 120226305854810726 is mapped to Art Play",
    ],
    [
      "explicit code (wa.me prefilled text)",
      inp({ message: { text: "Hi! #ARTPLAY" } }),
      { kind: "route", rule: "explicit_code", branchId: "art" },
      "text contains branch code ARTPLAY (Art Play)",
    ],
    [
      "explicit code (lower case)",
      inp({ message: { text: "code: artplay" } }),
      { kind: "route", rule: "explicit_code", branchId: "art" },
      "text contains branch code ARTPLAY (Art Play)",
    ],
    [
      "keyword (Cyrillic)",
      inp({ message: { text: "Запишите на маникюр завтра" } }),
      { kind: "route", rule: "keyword", branchId: "nails" },
      "keyword 'маникюр' belongs to Nails Center",
    ],
    [
      "crm owner",
      inp({ message: { text: "hello" }, crmOwners: ["nails"] }),
      { kind: "route", rule: "crm_owner", branchId: "nails" },
      "Nails Center's CRM already knows this phone",
    ],
    [
      "menu",
      inp({ message: { text: "hello" } }),
      { kind: "ask", rule: "menu" },
      "no rule decided; asked the customer to choose among 3 branches",
    ],
    [
      "hq fallback (menu off)",
      inp({ message: { text: "hello" }, settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "no rule matched; sent to HQ (Persona HQ)",
    ],
    [
      "hq fallback (menu ignored)",
      inp({ message: { text: "just answer me" }, awaitingMenu: true }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "the customer did not choose from the menu; sent to HQ (Persona HQ)",
    ],
    [
      "hq fallback (no HQ: first by menuOrder)",
      inp({ message: { text: "hello" }, settings: NO_MENU, branches: withBranches(NAILS, ART) }),
      { kind: "route", rule: "hq_fallback", branchId: "art" },
      "no rule matched; no branch is marked HQ; sent to the first branch, Art Play",
    ],
    [
      "hq fallback (no HQ, no menuOrder: first by name)",
      inp({ message: { text: "hello" }, settings: NO_MENU, branches: [br("z", { name: "Zeta" }), br("a", { name: "alpha" })] }),
      { kind: "route", rule: "hq_fallback", branchId: "a" },
      "no rule matched; no branch is marked HQ; sent to the first branch, alpha",
    ],
    [
      "hq fallback (single branch, menu on)",
      inp({ message: { text: "hello" }, branches: withBranches(ART) }),
      { kind: "route", rule: "hq_fallback", branchId: "art" },
      "no rule matched; sent to Art Play, the only enabled branch",
    ],
  ])("%s", (_name, input, expected, reason) => {
    const d = routeMessage(input);
    expect(summary(d)).toEqual(expected);
    expect(d.reason).toBe(reason);
  });

  it.each<[string, RoutingInput, boolean]>([
    ["reply_context", inp({ contextBranchId: "art" }), true],
    ["menu_reply", inp({ message: { interactiveReplyId: "branch:art" } }), true],
    ["open_binding (refreshes activity)", inp({ binding: binding("art") }), true],
    ["ad_referral", inp({ message: { referralSourceId: "555" } }), true],
    ["explicit_code", inp({ message: { text: "NAILS" } }), true],
    ["keyword", inp({ message: { text: "manicure" } }), true],
    ["crm_owner", inp({ crmOwners: ["art"] }), true],
    ["hq_fallback (HQ's first reply binds)", inp({ settings: NO_MENU }), false],
  ])("bind flag: %s → %s", (_name, input, bind) => {
    const d = routeMessage(input);
    expect(d.kind).toBe("route");
    if (d.kind === "route") expect(d.bind).toBe(bind);
  });
});

// ─────────────────────────────────────── precedence ──────────────────────────────────────────

describe("routeMessage: precedence between adjacent rules", () => {
  it.each<[string, RoutingInput, ReturnType<typeof summary>]>([
    [
      "0 change request > 1 reply context",
      inp({ message: { text: "change branch" }, contextBranchId: "art" }),
      { kind: "ask", rule: "change_request" },
    ],
    [
      "0 change request > 3 open binding",
      inp({ message: { text: "другой филиал" }, binding: binding("art") }),
      { kind: "ask", rule: "change_request" },
    ],
    [
      "1 reply context > 2 menu reply",
      inp({ message: { interactiveReplyId: "branch:art" }, contextBranchId: "nails" }),
      { kind: "route", rule: "reply_context", branchId: "nails" },
    ],
    [
      "2 menu reply > 3 open binding",
      inp({ message: { interactiveReplyId: "branch:nails" }, binding: binding("art") }),
      { kind: "route", rule: "menu_reply", branchId: "nails" },
    ],
    [
      "3 open binding > 4 explicit code",
      inp({ message: { text: "NAILS" }, binding: binding("art") }),
      { kind: "route", rule: "open_binding", branchId: "art" },
    ],
    [
      "3 open binding > 4 ad referral",
      inp({ message: { referralSourceId: "555" }, binding: binding("art") }),
      { kind: "route", rule: "open_binding", branchId: "art" },
    ],
    [
      "3 open binding > 4 keyword",
      inp({ message: { text: "маникюр" }, binding: binding("art") }),
      { kind: "route", rule: "open_binding", branchId: "art" },
    ],
    [
      "4 ad referral > 4 explicit code",
      inp({ message: { text: "ARTPLAY", referralSourceId: "555" } }),
      { kind: "route", rule: "ad_referral", branchId: "nails" },
    ],
    [
      "4 explicit code > 4 keyword",
      inp({ message: { text: "ARTPLAY маникюр" } }),
      { kind: "route", rule: "explicit_code", branchId: "art" },
    ],
    [
      "4 keyword > 5 crm owner",
      inp({ message: { text: "маникюр" }, crmOwners: ["art"] }),
      { kind: "route", rule: "keyword", branchId: "nails" },
    ],
    [
      "5 crm owner > 6 menu",
      inp({ message: { text: "hello" }, crmOwners: ["nails"] }),
      { kind: "route", rule: "crm_owner", branchId: "nails" },
    ],
    ["6 menu > 7 hq fallback", inp({ message: { text: "hello" } }), { kind: "ask", rule: "menu" }],
  ])("%s", (_name, input, expected) => {
    expect(summary(routeMessage(input))).toEqual(expected);
  });

  it("an open binding keeps the customer but notes the code that pointed elsewhere", () => {
    const d = routeMessage(inp({ message: { text: "Hi! #NAILS" }, binding: binding("art") }));
    expect(d.reason).toBe(
      "bound to Art Play since 2026-11-02 (open dialog); the message also points to Nails Center (branch code NAILS), " +
        "but an earlier rule decided; the customer can ask to change branch",
    );
    expect(d.notes).toEqual([{ type: "overridden", rule: "explicit_code", branchId: "nails", branchName: "Nails Center", token: "NAILS" }]);
  });

  it("a code for the bound branch itself adds no note", () => {
    const d = routeMessage(inp({ message: { text: "ARTPLAY" }, binding: binding("art") }));
    expect(d.notes).toEqual([]);
  });
});

// ─────────────────────────────────────────── ties ────────────────────────────────────────────

describe("routeMessage: ties fall through and are mentioned", () => {
  const SHARED_AD = [
    { ...ART, adSourceIds: ["777"] },
    { ...NAILS, adSourceIds: ["777"] },
    HQ,
  ];
  const SHARED_KEYWORD = [
    { ...ART, keywords: ["маникюр"] },
    NAILS,
    HQ,
  ];

  it.each<[string, RoutingInput, ReturnType<typeof summary>, string]>([
    [
      "two codes",
      inp({ message: { text: "ARTPLAY or NAILS?" }, settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "no rule matched; sent to HQ (Persona HQ); ambiguous: text contains codes of several branches (ARTPLAY → Art Play, NAILS → Nails Center)",
    ],
    [
      "two keywords (one per branch)",
      inp({ message: { text: "art space manicure" }, settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "no rule matched; sent to HQ (Persona HQ); ambiguous: keywords of several branches match ('art space' → Art Play, 'manicure' → Nails Center)",
    ],
    [
      "two keywords (the same word in two branches)",
      inp({ message: { text: "маникюр" }, settings: NO_MENU, branches: SHARED_KEYWORD }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "no rule matched; sent to HQ (Persona HQ); ambiguous: keywords of several branches match ('маникюр' → Art Play, 'маникюр' → Nails Center)",
    ],
    [
      "two ad ids",
      inp({ message: { referralSourceId: "777" }, settings: NO_MENU, branches: SHARED_AD }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "no rule matched; sent to HQ (Persona HQ); ambiguous: ad 777 is mapped to several branches (Art Play, Nails Center)",
    ],
    [
      "two CRM owners",
      inp({ message: { text: "hi" }, crmOwners: ["art", "nails"], settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "no rule matched; sent to HQ (Persona HQ); ambiguous: the CRMs of several branches know this phone (Art Play, Nails Center)",
    ],
    [
      "two codes, then the CRM owner decides",
      inp({ message: { text: "ARTPLAY NAILS" }, crmOwners: ["nails"] }),
      { kind: "route", rule: "crm_owner", branchId: "nails" },
      "Nails Center's CRM already knows this phone; ambiguous: text contains codes of several branches (ARTPLAY → Art Play, NAILS → Nails Center)",
    ],
    [
      "two ad ids, then the code decides",
      inp({ message: { text: "NAILS", referralSourceId: "777" }, branches: SHARED_AD }),
      { kind: "route", rule: "explicit_code", branchId: "nails" },
      "text contains branch code NAILS (Nails Center); ambiguous: ad 777 is mapped to several branches (Art Play, Nails Center)",
    ],
    [
      "two codes, then the keyword decides",
      inp({ message: { text: "ARTPLAY NAILS manicure" } }),
      { kind: "route", rule: "keyword", branchId: "nails" },
      "keyword 'manicure' belongs to Nails Center; ambiguous: text contains codes of several branches (ARTPLAY → Art Play, NAILS → Nails Center)",
    ],
    [
      "two CRM owners, then the menu",
      inp({ message: { text: "hi" }, crmOwners: ["art", "nails", "art"] }),
      { kind: "ask", rule: "menu" },
      "no rule decided; asked the customer to choose among 3 branches; ambiguous: the CRMs of several branches know this phone (Art Play, Nails Center)",
    ],
  ])("%s", (_name, input, expected, reason) => {
    const d = routeMessage(input);
    expect(summary(d)).toEqual(expected);
    expect(d.reason).toBe(reason);
    expect(d.notes.some((n) => n.type === "ambiguous")).toBe(true);
  });

  it("the same branch matched by code and keyword is not a tie", () => {
    const d = routeMessage(inp({ message: { text: "NAILS маникюр" } }));
    expect(summary(d)).toEqual({ kind: "route", rule: "explicit_code", branchId: "nails" });
    expect(d.notes).toEqual([]);
  });
});

// ───────────────────────────────────── binding expiry ────────────────────────────────────────

describe("routeMessage: binding expiry", () => {
  const TTL = S.bindingTtlMs;

  it("the default TTL is 30 days", () => {
    expect(TTL).toBe(30 * DAY);
  });

  it.each<[string, number, ReturnType<typeof summary>]>([
    ["just active", 0, { kind: "route", rule: "open_binding", branchId: "art" }],
    ["ttl - 1 ms", TTL - 1, { kind: "route", rule: "open_binding", branchId: "art" }],
    ["exactly ttl", TTL, { kind: "route", rule: "hq_fallback", branchId: "hq" }],
    ["ttl + 1 ms", TTL + 1, { kind: "route", rule: "hq_fallback", branchId: "hq" }],
  ])("%s idle", (_name, idle, expected) => {
    const d = routeMessage(inp({ message: { text: "hello" }, binding: binding("art", idle), settings: NO_MENU }));
    expect(summary(d)).toEqual(expected);
  });

  it("an expired binding says so and lets the code decide", () => {
    const d = routeMessage(inp({ message: { text: "NAILS" }, binding: binding("art", TTL) }));
    expect(summary(d)).toEqual({ kind: "route", rule: "explicit_code", branchId: "nails" });
    expect(d.reason).toBe(
      "text contains branch code NAILS (Nails Center); the binding to Art Play expired (last activity 2026-10-21)",
    );
  });

  it("expiry counts from the last activity, not from when the binding was made", () => {
    const old: RoutingBinding = { branchId: "art", boundAt: NOW - 365 * DAY, lastActivityAt: NOW - DAY, rule: "outbound" };
    expect(summary(routeMessage(inp({ binding: old })))).toEqual({ kind: "route", rule: "open_binding", branchId: "art" });
  });

  it("a custom TTL is honoured", () => {
    const settings = { ...NO_MENU, bindingTtlMs: 60_000 };
    expect(routeMessage(inp({ settings, binding: binding("art", 59_999) })).kind).toBe("route");
    expect(summary(routeMessage(inp({ settings, binding: binding("art", 60_000) })))).toEqual({
      kind: "route",
      rule: "hq_fallback",
      branchId: "hq",
    });
  });
});

// ─────────────────────────────────── disabled branches ───────────────────────────────────────

describe("routeMessage: disabled branches are never routed to", () => {
  const OFF_ART = [HQ, disabled(ART), NAILS];

  it.each<[string, RoutingInput, ReturnType<typeof summary>, string]>([
    [
      "binding to a disabled branch",
      inp({ branches: OFF_ART, binding: binding("art"), settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "ignored binding pointing to disabled branch Art Play",
    ],
    [
      "reply context of a disabled branch",
      inp({ branches: OFF_ART, contextBranchId: "art", settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "ignored reply context pointing to disabled branch Art Play",
    ],
    [
      "reply context of an unknown branch",
      inp({ contextBranchId: "ghost", settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "ignored reply context pointing to unknown branch ghost",
    ],
    [
      "code of a disabled branch",
      inp({ branches: OFF_ART, message: { text: "#ARTPLAY" }, settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "ignored branch code pointing to disabled branch Art Play",
    ],
    [
      "code of a disabled branch next to an enabled one is no tie",
      inp({ branches: OFF_ART, message: { text: "ARTPLAY NAILS" } }),
      { kind: "route", rule: "explicit_code", branchId: "nails" },
      "ignored branch code pointing to disabled branch Art Play",
    ],
    [
      "keyword of a disabled branch",
      inp({ branches: [HQ, ART, disabled(NAILS)], message: { text: "маникюр" }, settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "ignored keyword pointing to disabled branch Nails Center",
    ],
    [
      "ad of a disabled branch",
      inp({ branches: OFF_ART, message: { referralSourceId: "120226305854810726" }, settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "ignored ad mapping pointing to disabled branch Art Play",
    ],
    [
      "menu reply naming a disabled branch",
      inp({ branches: OFF_ART, message: { interactiveReplyId: "branch:art" }, awaitingMenu: true }),
      { kind: "route", rule: "hq_fallback", branchId: "hq" },
      "ignored menu choice pointing to disabled branch Art Play",
    ],
    [
      "a disabled CRM owner does not make a tie",
      inp({ branches: OFF_ART, crmOwners: ["art", "nails"] }),
      { kind: "route", rule: "crm_owner", branchId: "nails" },
      "ignored CRM ownership pointing to disabled branch Art Play",
    ],
    [
      "disabled HQ: the first enabled branch",
      inp({ branches: [disabled(HQ), NAILS, ART], settings: NO_MENU }),
      { kind: "route", rule: "hq_fallback", branchId: "art" },
      "no rule matched; no branch is marked HQ; sent to the first branch, Art Play",
    ],
  ])("%s", (_name, input, expected, reasonPart) => {
    const d = routeMessage(input);
    expect(summary(d)).toEqual(expected);
    expect(d.reason).toContain(reasonPart);
  });

  it("disabled branches never appear in the menu", () => {
    const d = asAsk(routeMessage(inp({ branches: OFF_ART, message: { text: "hi" } })));
    expect(rowIds(d.menu)).toEqual(["branch:hq", "branch:nails"]);
    expect(rowIds(buildMenu(OFF_ART, S))).toEqual(["branch:hq", "branch:nails"]);
  });
});

// ──────────────────────────────── whole words, Cyrillic first ────────────────────────────────

describe("routeMessage: codes and keywords match whole words only", () => {
  const ARTB = br("a", { code: "АРТ", name: "Арт", keywords: ["арт", "маникюр гель"] });
  const OTHER = br("o", { code: "ART-2", name: "Other", keywords: ["ёлка"], isHq: true });
  const run = (text: string) => routeMessage(inp({ branches: [ARTB, OTHER], message: { text }, settings: NO_MENU }));

  it.each<[string, string, string | undefined]>([
    ["артист пришёл", "no: inside 'артист'", undefined],
    ["поп-арт", "yes: a hyphen is a boundary", "a"],
    ["Хочу в АРТ!", "yes: upper case Cyrillic", "a"],
    ["арт", "yes: the whole text", "a"],
    ["«арт»", "yes: quotes are boundaries", "a"],
    ["арт2", "no: followed by a digit", undefined],
    ["арт_пространство", "no: followed by an underscore", undefined],
    ["маникюр  гель завтра", "yes: a phrase across several spaces", "a"],
    ["маникюр гельлак", "no: phrase ends inside a word", undefined],
    ["елка", "yes: ё and е are the same letter", "o"],
    ["нужна ЁЛКА", "yes: Ё upper case", "o"],
    ["code art-2 please", "yes: a code with a hyphen", "o"],
    ["code art-22", "no: code followed by a digit", undefined],
  ])("%j (%s)", (text, _why, branchId) => {
    const d = run(text);
    if (branchId === undefined) expect(summary(d)).toEqual({ kind: "route", rule: "hq_fallback", branchId: "o" });
    else {
      expect(d.kind).toBe("route");
      expect(d.kind === "route" && d.rule !== "hq_fallback" && d.branchId).toBe(branchId);
    }
  });

  it.each<[string, string | undefined]>([
    ["Hi! #ARTPLAY", "art"],
    ["ARTPLAY.", "art"],
    ["wa.me text: code=artplay&x", "art"],
    ["ARTPLAY2", undefined],
    ["myARTPLAY", undefined],
  ])("Latin code %j", (text, branchId) => {
    const d = routeMessage(inp({ message: { text }, settings: NO_MENU }));
    expect(d.kind === "route" && d.rule === "explicit_code" ? d.branchId : undefined).toBe(branchId);
  });

  it("a Cyrillic code decides as explicit_code", () => {
    const d = run("код: арт");
    expect(summary(d)).toEqual({ kind: "route", rule: "explicit_code", branchId: "a" });
    expect(d.reason).toBe("text contains branch code АРТ (Арт)");
  });
});

// ─────────────────────────────────────── change phrases ──────────────────────────────────────

describe("routeMessage: change requests", () => {
  it.each<[string, boolean, "ru" | "en"]>([
    ["Сменить филиал", true, "ru"],
    ["  СМЕНИТЬ ФИЛИАЛ  ", true, "ru"],
    ["Можно другой филиал?", true, "ru"],
    ["хочу поменять   филиал", true, "ru"],
    ["change branch", true, "en"],
    ["Please SWITCH BRANCH!", true, "en"],
    ["I need another branch", true, "en"],
    ["сменить филиалы", false, "ru"],
    ["I changed branches", false, "en"],
    ["филиал сменить", false, "ru"],
  ])("%j → %s", (text, matches, lang) => {
    const d = routeMessage(inp({ message: { text }, binding: binding("art") }));
    if (!matches) {
      expect(summary(d)).toEqual({ kind: "route", rule: "open_binding", branchId: "art" });
      return;
    }
    const ask = asAsk(d);
    expect(ask.rule).toBe("change_request");
    expect(ask.menu.body.startsWith(lang === "ru" ? "Хорошо, можно перейти в другой филиал." : "Sure, you can switch")).toBe(true);
    expectWithinLimits(ask.menu);
  });

  it("custom phrases replace the defaults", () => {
    const settings = { ...S, changeBranchPhrases: ["другой салон"] };
    expect(summary(routeMessage(inp({ settings, message: { text: "Другой салон" } })))).toEqual({ kind: "ask", rule: "change_request" });
    expect(summary(routeMessage(inp({ settings, message: { text: "сменить филиал" }, binding: binding("art") })))).toEqual({
      kind: "route",
      rule: "open_binding",
      branchId: "art",
    });
  });

  it("with one enabled branch a change request does not decide", () => {
    const d = routeMessage(inp({ branches: [ART, disabled(NAILS)], message: { text: "сменить филиал" } }));
    expect(summary(d)).toEqual({ kind: "route", rule: "hq_fallback", branchId: "art" });
    expect(d.reason).toContain("the customer asked to change branch ('сменить филиал'), but only one branch is enabled");
  });

  it("asks even while the menu is awaited or turned off", () => {
    const asked = { kind: "ask", rule: "change_request" };
    expect(summary(routeMessage(inp({ message: { text: "change branch" }, awaitingMenu: true })))).toEqual(asked);
    expect(summary(routeMessage(inp({ message: { text: "change branch" }, settings: NO_MENU })))).toEqual(asked);
  });
});

// ─────────────────────────────────────────── menus ───────────────────────────────────────────

const CITIES4 = ["Moscow", "Kazan", "Samara", "Perm"];
/** 12 branches, 3 in each of 4 cities. */
const TWELVE_IN_4 = CITIES4.flatMap((city, c) =>
  [1, 2, 3].map((n) => br(`${city.toLowerCase()}-${n}`, { name: `${city} ${n}`, city, menuOrder: c * 10 + n })),
);
/** 12 cities with one branch each. */
const CITY_NAMES = ["Moscow", "Kazan", "Samara", "Perm", "Omsk", "Tver", "Tula", "Sochi", "Ufa", "Kursk", "Orel", "Pskov"];
const TWELVE_CITIES = CITY_NAMES.map((city, i) => br(`b${i + 1}`, { name: `${city} center`, city, menuOrder: i + 1 }));

describe("menus", () => {
  it("3 branches: one section, branches by menuOrder with their city", () => {
    const d = asAsk(routeMessage(inp({ message: { text: "hello" } })));
    expect(d.rule).toBe("menu");
    expect(d.view).toEqual({ stage: "branches", page: 1, pages: 1, options: 3 });
    expect(d.menu).toEqual({
      type: "list",
      body: "Please choose the branch you would like to contact.",
      button: "Choose branch",
      sections: [
        {
          title: "Branches",
          rows: [
            { id: "branch:hq", title: "Persona HQ", description: "Moscow" },
            { id: "branch:art", title: "Art Play", description: "Moscow" },
            { id: "branch:nails", title: "Nails Center", description: "Moscow" },
          ],
        },
      ],
    });
    expectWithinLimits(d.menu);
  });

  it.each<[string, RoutingInput, "ru" | "en"]>([
    ["Cyrillic text → ru", inp({ message: { text: "здравствуйте" } }), "ru"],
    ["Latin text → en", inp({ message: { text: "hello" } }), "en"],
    ["no text → ru", inp({ message: {} }), "ru"],
    ["caller's language wins", inp({ message: { text: "здравствуйте" }, lang: "en" }), "en"],
    ["fixed setting wins over the text", inp({ message: { text: "hello" }, settings: { ...S, menuLang: "ru" } }), "ru"],
  ])("language: %s", (_name, input, lang) => {
    const d = asAsk(routeMessage(input));
    expect(d.menu.button).toBe(lang === "ru" ? "Выбрать филиал" : "Choose branch");
    expect(d.menu.sections[0]?.title).toBe(lang === "ru" ? "Филиалы" : "Branches");
  });

  it("menuTitle is preferred over the name", () => {
    const m = buildMenu([HQ, { ...ART, menuTitle: "Art Play (Курская)" }], S, { lang: "ru" });
    expect(m.sections[0]?.rows[1]).toEqual({ id: "branch:art", title: "Art Play (Курская)", description: "Moscow" });
  });

  it("12 branches in 4 cities: cities first", () => {
    const d = asAsk(routeMessage(inp({ branches: TWELVE_IN_4, message: { text: "hello" } })));
    expect(d.view).toEqual({ stage: "cities", page: 1, pages: 1, options: 4 });
    expect(d.menu.button).toBe("Choose city");
    expect(d.menu.sections).toEqual([
      {
        title: "Cities",
        rows: [
          { id: "city:Moscow", title: "Moscow", description: "3 branches" },
          { id: "city:Kazan", title: "Kazan", description: "3 branches" },
          { id: "city:Samara", title: "Samara", description: "3 branches" },
          { id: "city:Perm", title: "Perm", description: "3 branches" },
        ],
      },
    ]);
    expect(d.reason).toBe("no rule decided; asked the customer to choose a city first (4 choices, 12 branches)");
    expectWithinLimits(d.menu);
  });

  it("choosing a city shows its branches", () => {
    // A list reply carries no text to guess the language from: the caller passes the customer's.
    const d = asAsk(
      routeMessage(inp({ branches: TWELVE_IN_4, message: { interactiveReplyId: "city:Kazan" }, awaitingMenu: true, lang: "en" })),
    );
    expect(d.rule).toBe("menu");
    expect(d.view).toEqual({ stage: "city", city: "Kazan", page: 1, pages: 1, options: 3 });
    expect(d.menu.body).toBe("Please choose a branch in Kazan.");
    expect(d.menu.sections).toEqual([
      {
        title: "Kazan",
        rows: [
          { id: "branch:kazan-1", title: "Kazan 1" },
          { id: "branch:kazan-2", title: "Kazan 2" },
          { id: "branch:kazan-3", title: "Kazan 3" },
        ],
      },
    ]);
    expect(d.reason).toBe("chose Kazan in the menu; asked to choose among its 3 branches");
  });

  it("the city in a reply is matched case-insensitively", () => {
    const d = asAsk(routeMessage(inp({ branches: TWELVE_IN_4, message: { interactiveReplyId: "city: kazan " } })));
    expect(d.view.city).toBe("Kazan");
  });

  it("a city with a single branch routes straight to it", () => {
    const d = routeMessage(inp({ branches: TWELVE_CITIES, message: { interactiveReplyId: "city:Tula" } }));
    expect(summary(d)).toEqual({ kind: "route", rule: "menu_reply", branchId: "b7" });
    expect(d.reason).toBe("chose Tula in the menu; Tula center is the only branch there");
  });

  it("an unknown city falls through with a note", () => {
    const d = routeMessage(inp({ branches: TWELVE_IN_4, message: { interactiveReplyId: "city:Atlantis" }, awaitingMenu: true }));
    expect(summary(d)).toEqual({ kind: "route", rule: "hq_fallback", branchId: "moscow-1" });
    expect(d.reason).toContain("menu choice 'city:Atlantis' matches no enabled branch");
  });

  it("12 branches all in one city: a flat, paginated branch list (no pointless city step)", () => {
    const oneCity = TWELVE_IN_4.map((b) => ({ ...b, city: "Moscow" }));
    const d = asAsk(routeMessage(inp({ branches: oneCity, message: { text: "hi" } })));
    expect(d.view).toEqual({ stage: "branches", page: 1, pages: 2, options: 12 });
    expectWithinLimits(d.menu);
    expect(rowIds(d.menu).at(-1)).toBe("menu:page:2");
  });

  it("12 cities: paginated with a More… row, then back to the start", () => {
    const first = asAsk(routeMessage(inp({ branches: TWELVE_CITIES, message: { text: "hello" } })));
    expect(first.view).toEqual({ stage: "cities", page: 1, pages: 2, options: 12 });
    expectWithinLimits(first.menu);
    expect(rowIds(first.menu)).toEqual([...CITY_NAMES.slice(0, 9).map((c) => `city:${c}`), "menu:page:2"]);
    expect(first.menu.sections.at(-1)?.rows.at(-1)).toEqual({ id: "menu:page:2", title: "More…", description: "Page 2 of 2" });
    expect(first.menu.body).toBe("Please choose your city first, then the branch. (page 1 of 2)");

    const second = asAsk(routeMessage(inp({ branches: TWELVE_CITIES, message: { interactiveReplyId: "menu:page:2" }, awaitingMenu: true })));
    expect(second.rule).toBe("menu");
    expect(second.view).toEqual({ stage: "cities", page: 2, pages: 2, options: 12 });
    expectWithinLimits(second.menu);
    expect(rowIds(second.menu)).toEqual([...CITY_NAMES.slice(9).map((c) => `city:${c}`), "menu:page:1"]);
    expect(second.reason).toBe("asked for page 2 of 2 of the menu");
  });

  it.each([
    [0, 1],
    [1, 1],
    [3, 2],
    [99, 2],
  ])("a page out of range (%i) is clamped to %i", (asked, page) => {
    const d = asAsk(routeMessage(inp({ branches: TWELVE_CITIES, message: { interactiveReplyId: `menu:page:${asked}` } })));
    expect(d.view.page).toBe(page);
    expectWithinLimits(d.menu);
  });

  it("25 cities: every page holds ≤ 10 rows and every city appears once", () => {
    const names = Array.from({ length: 25 }, (_, i) => `City ${String(i + 1).padStart(2, "0")}`);
    const branches = names.map((city, i) => br(`c${i}`, { name: `B ${i}`, city }));
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const m = buildMenu(branches, S, { page, lang: "en" });
      expectWithinLimits(m);
      seen.push(...rowIds(m).filter((id) => id.startsWith("city:")));
      expect(rowIds(m).at(-1)).toBe(page < 3 ? `menu:page:${page + 1}` : "menu:page:1");
    }
    expect(seen).toEqual(names.map((c) => `city:${c}`));
  });

  it("a city with 12 branches is paginated inside the city", () => {
    const moscow = Array.from({ length: 12 }, (_, i) => br(`m${i + 1}`, { name: `Moscow ${i + 1}`, city: "Moscow", menuOrder: i + 1 }));
    const branches = [...moscow, br("k1", { name: "Kazan 1", city: "Kazan" })];
    const p1 = asAsk(routeMessage(inp({ branches, message: { interactiveReplyId: "city:Moscow" } })));
    expect(p1.view).toEqual({ stage: "city", city: "Moscow", page: 1, pages: 2, options: 12 });
    expectWithinLimits(p1.menu);
    expect(rowIds(p1.menu)).toEqual([...moscow.slice(0, 9).map((b) => `branch:${b.id}`), "menu:page:2:city:Moscow"]);

    const p2 = asAsk(routeMessage(inp({ branches, message: { interactiveReplyId: "menu:page:2:city:Moscow" } })));
    expect(p2.view).toEqual({ stage: "city", city: "Moscow", page: 2, pages: 2, options: 12 });
    expect(rowIds(p2.menu)).toEqual([...moscow.slice(9).map((b) => `branch:${b.id}`), "menu:page:1:city:Moscow"]);
    expect(p2.reason).toBe("asked for page 2 of 2 of the Moscow menu");
  });

  it("branches without a city follow the cities in their own section", () => {
    const branches = [...TWELVE_IN_4, br("online", { name: "Online shop", menuOrder: 0 })];
    const m = buildMenu(branches, S, { lang: "ru" });
    expectWithinLimits(m);
    expect(m.button).toBe("Выбрать город");
    expect(m.sections.map((s) => s.title)).toEqual(["Города", "Другие филиалы"]);
    expect(m.sections[1]?.rows).toEqual([{ id: "branch:online", title: "Online shop" }]);
    expect(m.sections[0]?.rows[0]).toEqual({ id: "city:Moscow", title: "Moscow", description: "Филиалов: 3" });
  });

  it("a higher threshold keeps a flat list", () => {
    const m = buildMenu(TWELVE_IN_4, { ...S, menuThreshold: 20 }, { lang: "en" });
    expect(m.sections[0]?.title).toBe("Branches");
    expectWithinLimits(m);
  });

  it("long titles are truncated with an ellipsis", () => {
    const long = br("long", {
      name: "Салон красоты «Персона» на Большой Дмитровке",
      city: "Санкт-Петербург, Васильевский остров, 7-я линия, дом 34, вход со двора через арку",
    });
    const emoji = br("emoji", { name: "Nails 💅💅💅💅💅💅💅💅💅💅💅💅💅💅💅" });
    const m = buildMenu([long, emoji], S, { lang: "ru" });
    expectWithinLimits(m);
    const [first, second] = m.sections[0]?.rows ?? [];
    expect(first?.title).toBe("Nails 💅💅💅💅💅💅💅💅…");
    expect(first?.title.length).toBeLessThanOrEqual(24);
    expect(second?.title).toBe("Салон красоты «Персона»…");
    expect(second?.title).toHaveLength(24);
    expect(second?.description?.endsWith("…")).toBe(true);
    expect(second?.description?.length).toBeLessThanOrEqual(72);
    // No lone surrogate anywhere.
    for (const s of [first?.title ?? "", second?.title ?? ""]) {
      expect(s).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
  });

  it("a long city name is truncated as a section title but kept whole in the row id", () => {
    const city = "Санкт-Петербург и Ленинградская область";
    const branches = [br("x1", { name: "X1", city }), br("x2", { name: "X2", city }), br("y", { name: "Y", city: "Тверь" })];
    const m = buildMenu(branches, S, { city: "САНКТ-ПЕТЕРБУРГ И ЛЕНИНГРАДСКАЯ ОБЛАСТЬ", lang: "ru" });
    expectWithinLimits(m);
    expect(m.sections[0]?.title).toBe("Санкт-Петербург и Ленин…");
    const cities = buildMenu(branches, { ...S, menuThreshold: 1 }, { lang: "ru" });
    expect(rowIds(cities)).toContain(`city:${city}`);
    expectWithinLimits(cities);
  });

  it("buildMenu refuses when no branch is enabled", () => {
    expect(() => buildMenu([disabled(ART)], S)).toThrow(RangeError);
  });
});

// ─────────────────────────────────────────── unroutable ──────────────────────────────────────

describe("routeMessage: nothing to route to", () => {
  it.each<[string, RoutingBranch[]]>([
    ["no branches", []],
    ["all disabled", [disabled(HQ), disabled(ART)]],
  ])("%s → unroutable", (_name, branches) => {
    const d = routeMessage(inp({ branches, message: { text: "сменить филиал", interactiveReplyId: "branch:art" }, binding: binding("art") }));
    expect(d).toMatchObject({ kind: "unroutable", reason: "no branch is enabled; the message cannot be routed" });
  });
});

// ───────────────────────────────────────── describeDecision ──────────────────────────────────

describe("describeDecision", () => {
  it.each<[string, RoutingInput, string, string]>([
    [
      "reply context",
      inp({ contextBranchId: "art" }),
      "Routed to Art Play: replied to a message sent by Art Play",
      "Направлено в «Art Play»: клиент ответил на сообщение филиала «Art Play»",
    ],
    [
      "open binding",
      inp({ binding: binding("art") }),
      "Routed to Art Play: bound to Art Play since 2026-11-02 (open dialog)",
      "Направлено в «Art Play»: клиент закреплён за «Art Play» с 2026-11-02 (открытый диалог)",
    ],
    [
      "keyword",
      inp({ message: { text: "маникюр" } }),
      "Routed to Nails Center: keyword 'маникюр' belongs to Nails Center",
      "Направлено в «Nails Center»: ключевое слово «маникюр» относится к «Nails Center»",
    ],
    [
      "crm owner",
      inp({ crmOwners: ["nails"] }),
      "Routed to Nails Center: Nails Center's CRM already knows this phone",
      "Направлено в «Nails Center»: CRM филиала «Nails Center» уже знает этот номер",
    ],
    [
      "HQ after a tie",
      inp({ message: { text: "ARTPLAY NAILS" }, settings: NO_MENU }),
      "Routed to Persona HQ: no rule matched; sent to HQ (Persona HQ); ambiguous: text contains codes of several branches (ARTPLAY → Art Play, NAILS → Nails Center)",
      "Направлено в «Persona HQ»: ни одно правило не сработало; отправлено в головной офис («Persona HQ»); неоднозначно: в тексте коды нескольких филиалов (ARTPLAY → «Art Play», NAILS → «Nails Center»)",
    ],
    [
      "menu",
      inp({ message: { text: "hi" } }),
      "Menu sent: no rule decided; asked the customer to choose among 3 branches",
      "Отправлено меню: ни одно правило не сработало; клиенту отправлено меню выбора филиала (филиалов: 3)",
    ],
    [
      "unroutable",
      inp({ branches: [] }),
      "Not routed: no branch is enabled; the message cannot be routed",
      "Не направлено: нет ни одного включённого филиала",
    ],
  ])("%s", (_name, input, en, ru) => {
    const d = routeMessage(input);
    expect(describeDecision(d, "en")).toBe(en);
    expect(describeDecision(d, "ru")).toBe(ru);
    expect(describeDecision(d, "ru")).not.toContain("\n");
  });

  it("the English reason of a route always names the branch", () => {
    const inputs = [
      inp({ contextBranchId: "art" }),
      inp({ binding: binding("art") }),
      inp({ message: { text: "ARTPLAY" } }),
      inp({ message: { text: "art space" } }),
      inp({ message: { referralSourceId: "120226305854810726" } }),
      inp({ message: { interactiveReplyId: "branch:art" } }),
      inp({ crmOwners: ["art"] }),
      inp({ settings: NO_MENU, branches: [ART, NAILS] }),
    ];
    for (const input of inputs) {
      const d = routeMessage(input);
      expect(d.kind).toBe("route");
      expect(d.reason).toContain("Art Play");
    }
  });
});

describe("purity", () => {
  it("does not mutate its input and gives the same answer twice", () => {
    const input = inp({ message: { text: "ARTPLAY NAILS" }, crmOwners: ["nails"], binding: binding("art", 40 * DAY) });
    const snapshot = structuredClone(input);
    const a = routeMessage(input);
    const b = routeMessage(input);
    expect(input).toEqual(snapshot);
    expect(a).toEqual(b);
  });
});
