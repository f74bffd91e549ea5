import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  defaultRoutingSettings,
  prepareBranches,
  routeMessage,
  type RoutingBranch,
  type RoutingDecision,
  type RoutingInput,
} from "../../backend/src/domain/routing.js";

/**
 * Rule 4 (ad referral, branch code, keyword) on a prepared branch set, against the rule as written:
 * "the phrase occurs in the text as whole words" tested branch by branch with a regular expression.
 * The prepared set scans the text once for all phrases; these properties hold it to the same answers.
 */

const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);
const SETTINGS = { ...defaultRoutingSettings(), menuEnabled: false, changeBranchPhrases: [] };

// Words that meet at edges: prefixes of each other, punctuation inside and around, Cyrillic with ё,
// letters outside the BMP, digits, underscores, mixed case.
const WORDS = ["арт", "артист", "Art", "art-play", "ARTPLAY", "e001", "E-001", "#nails", "nails", "маникюр", "маникюр гель-лак", "гель-лак", "Ёлка", "елка", "a.b", "x_y", "42", "C++", "(hq)", "spa", "spa center", "𝒜bc", "ünï", "1"];
const SEPARATORS = [" ", "  ", ", ", "!", ".", "-", "_", "\n", "?", "🙂", ""];

const word = fc.constantFrom(...WORDS);
const phrase = fc.oneof(word, fc.tuple(word, word).map(([a, b]) => `${a} ${b}`), fc.constant(" "));

const branchSet = fc
  .array(
    fc.record({
      code: phrase,
      keywords: fc.array(phrase, { maxLength: 3 }),
      adSourceIds: fc.array(fc.constantFrom("111", " 111", "222", "333 "), { maxLength: 2 }),
      enabled: fc.boolean(),
      isHq: fc.boolean(),
    }),
    { minLength: 1, maxLength: 12 },
  )
  // Distinct menu orders: the branch order is the array order.
  .map((specs) => specs.map((s, i): RoutingBranch => ({ id: `b${i}`, name: `Branch ${i}`, menuOrder: i, ...s })));

const textOf = (branches: RoutingBranch[]) =>
  fc
    .array(fc.tuple(fc.oneof(word, fc.constantFrom(...branches.flatMap((b) => [b.code, ...b.keywords]))), fc.constantFrom(...SEPARATORS)), { maxLength: 6 })
    .chain((parts) => fc.boolean().map((upper) => {
      const text = parts.map(([w, sep]) => w + sep).join("");
      return upper ? text.toUpperCase() : text;
    }));

const normalize = (s: string) => s.normalize("NFC").toLowerCase().replace(/ё/g, "е").replace(/\s+/gu, " ").trim();

/** The rule as written: whole words, per phrase, with a regular expression. */
function occurs(text: string, p: string): boolean {
  const n = normalize(p);
  if (!n) return false;
  const body = n.split(" ").map((w) => w.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("\\s+");
  return new RegExp(`(?<![\\p{L}\\p{M}\\p{N}_])${body}(?![\\p{L}\\p{M}\\p{N}_])`, "u").test(normalize(text));
}

interface Expected {
  rule: string;
  branchId?: string;
  token?: string;
  ambiguous: { rule: string; tokens: string[] }[];
}

/** Rule 4 branch by branch, else HQ (menu off, no binding). */
function expected(branches: RoutingBranch[], text: string, referral?: string): Expected {
  const ambiguous: Expected["ambiguous"] = [];
  const decide = (rule: string, hits: { b: RoutingBranch; token: string }[]): Expected | undefined => {
    const live = hits.filter((h) => h.b.enabled);
    if (live.length === 1) return { rule, branchId: live[0]!.b.id, token: live[0]!.token, ambiguous };
    if (live.length > 1) ambiguous.push({ rule, tokens: live.map((h) => `${h.b.id}=${h.token}`) });
    return undefined;
  };
  const ref = referral?.trim();
  if (ref) {
    const d = decide("ad_referral", branches.filter((b) => b.adSourceIds.some((a) => a.trim() === ref)).map((b) => ({ b, token: ref })));
    if (d) return d;
  }
  if (normalize(text)) {
    const codes = branches.filter((b) => b.code.trim() && occurs(text, b.code.trim())).map((b) => ({ b, token: b.code.trim() }));
    const byCode = decide("explicit_code", codes);
    if (byCode) return byCode;
    const keywords = branches.flatMap((b) => {
      const best = b.keywords.map((k) => k.trim()).filter((k) => k && occurs(text, k)).sort((x, y) => y.length - x.length)[0];
      return best ? [{ b, token: best }] : [];
    });
    const byKeyword = decide("keyword", keywords);
    if (byKeyword) return byKeyword;
  }
  const enabled = branches.filter((b) => b.enabled);
  const hq = enabled.find((b) => b.isHq) ?? enabled[0];
  return hq ? { rule: "hq_fallback", branchId: hq.id, ambiguous } : { rule: "unroutable", ambiguous };
}

function observed(d: RoutingDecision): Expected {
  const e = d.explanation;
  const token = e.rule === "explicit_code" ? e.code : e.rule === "keyword" ? e.keyword : e.rule === "ad_referral" ? e.sourceId : undefined;
  return {
    rule: d.kind === "route" ? d.rule : d.kind,
    ...(d.kind === "route" ? { branchId: d.branchId } : {}),
    ...(token !== undefined ? { token } : {}),
    ambiguous: d.notes.flatMap((n) => (n.type === "ambiguous" && n.rule !== "crm_owner" ? [{ rule: n.rule, tokens: n.matches.map((m) => `${m.branchId}=${m.token}`) }] : [])),
  };
}

const input = (branches: RoutingInput["branches"], text: string, referral?: string): RoutingInput => ({
  now: NOW,
  message: { text, ...(referral ? { referralSourceId: referral } : {}) },
  branches,
  settings: SETTINGS,
});

describe("prepared branches: codes, keywords and ads match as the rule says", () => {
  it("decides rule 4 like a whole-word regular expression per branch (random branch sets and texts)", { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(
        branchSet.chain((branches) => fc.tuple(fc.constant(branches), textOf(branches), fc.option(fc.constantFrom("111", "222", " 333", "9"), { nil: undefined }))),
        ([branches, text, referral]) => {
          const prepared = prepareBranches(branches);
          expect(observed(routeMessage(input(prepared, text, referral)))).toEqual(expected(branches, text, referral));
        },
      ),
      { numRuns: 300, seed: 20261126 },
    );
  });

  it("one prepared set serves many messages with the same decisions as the plain list", { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(
        branchSet.chain((branches) => fc.tuple(fc.constant(branches), fc.array(textOf(branches), { minLength: 2, maxLength: 6 }))),
        ([branches, texts]) => {
          const prepared = prepareBranches(branches);
          for (const text of texts) expect(routeMessage(input(prepared, text))).toEqual(routeMessage(input(branches, text)));
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it.each([
    ["a code inside a longer word does not match", "artplay2 please", "hq_fallback", "hq"],
    ["a code between punctuation matches", "(ARTPLAY)!", "explicit_code", "art"],
    ["a code written in another case, after an emoji, matches", "🙂artplay", "explicit_code", "art"],
    ["a multi-word keyword across a line break matches", "нужен маникюр\nгель-лак", "keyword", "nails"],
    ["ё and е are the same letter", "ёлка", "keyword", "art"],
  ])("%s", (_name, text, rule, branchId) => {
    const branches: RoutingBranch[] = [
      { id: "hq", code: "HQ", name: "HQ", enabled: true, isHq: true, keywords: [], adSourceIds: [], menuOrder: 1 },
      { id: "art", code: "ARTPLAY", name: "Art Play", enabled: true, isHq: false, keywords: ["елка"], adSourceIds: [], menuOrder: 2 },
      { id: "nails", code: "NAILS", name: "Nails", enabled: true, isHq: false, keywords: ["маникюр", "маникюр гель-лак"], adSourceIds: [], menuOrder: 3 },
    ];
    const d = routeMessage(input(prepareBranches(branches), text));
    expect(d.kind === "route" ? [d.rule, d.branchId] : [d.kind]).toEqual([rule, branchId]);
  });
});
