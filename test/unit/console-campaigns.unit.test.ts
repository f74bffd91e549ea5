import { describe, expect, it } from "vitest";
import { campaignActions, campaignInput, progressBar, splitTemplateKey, templateKey, type CampaignForm } from "../../widget/src/pages/console/campaign-form.js";
import { groupByStep, parseDefinition, problemStep, problemText } from "../../widget/src/pages/console/flow-editor.js";
import type { CampaignProgress } from "../../widget/src/pages/console/types.js";

const form = (patch: Partial<CampaignForm> = {}): CampaignForm => ({
  name: " Весна ",
  template: templateKey("spring_sale", "ru"),
  branchIds: ["br_1"],
  csv: "phone,1\n+79160000001,Анна",
  startAt: "",
  quietFrom: "",
  quietTo: "",
  timezone: "Europe/Moscow",
  ...patch,
});

const progress = (p: Partial<CampaignProgress>): CampaignProgress => ({ total: 0, pending: 0, queued: 0, sent: 0, delivered: 0, read: 0, replied: 0, failed: 0, skipped: 0, skippedByReason: {}, ...p });

describe("campaign form → API input", () => {
  it("sends the trimmed name, the template split back into name and language, and no schedule when none is set", () => {
    expect(campaignInput(form())).toEqual({ ok: true, input: { name: "Весна", template: { name: "spring_sale", language: "ru" }, branchIds: ["br_1"], csv: "phone,1\n+79160000001,Анна" } });
  });

  it("adds the start time (as the page's clock reads it) and complete quiet hours", () => {
    const r = campaignInput(form({ startAt: "2026-12-01T10:00", quietFrom: "21:00", quietTo: "09:00" }), (v) => (v === "2026-12-01T10:00" ? 1_796_108_400_000 : NaN));
    expect(r).toMatchObject({ ok: true, input: { schedule: { startAt: 1_796_108_400_000, quietHours: { from: "21:00", to: "09:00", timezone: "Europe/Moscow" } } } });
  });

  it.each([
    [{ name: "  " }, "formIncomplete"],
    [{ template: "" }, "formIncomplete"],
    [{ branchIds: [] }, "formIncomplete"],
    [{ csv: "\n" }, "formIncomplete"],
    [{ quietFrom: "21:00" }, "quietIncomplete"],
    [{ quietFrom: "21:00", quietTo: "09:00", timezone: " " }, "quietIncomplete"],
    [{ startAt: "tomorrow" }, "badStartAt"],
  ] as const)("refuses %j with %s", (patch, problem) => {
    expect(campaignInput(form(patch as Partial<CampaignForm>), (v) => new Date(v).getTime())).toEqual({ ok: false, problem });
  });

  it("keeps a template name that contains the separator's neighbours intact", () => {
    expect(splitTemplateKey(templateKey("a_b", "pt_BR"))).toEqual({ name: "a_b", language: "pt_BR" });
    expect(splitTemplateKey("nolanguage|")).toBeUndefined();
  });
});

describe("campaign progress bar", () => {
  it("stacks read, delivered, sent, failed and skipped, and counts what is through", () => {
    // 10 rows: 2 skipped at import, 5 sent of which 3 delivered of which 1 read, 1 failed, 2 waiting.
    const bar = progressBar(progress({ total: 10, pending: 2, sent: 5, delivered: 3, read: 1, failed: 1, skipped: 2 }));
    expect(bar.done).toBe(8);
    expect(bar.percent).toBe(80);
    expect(bar.parts.map((p) => [p.part, p.count, p.percent])).toEqual([
      ["read", 1, 10],
      ["delivered", 2, 20],
      ["sent", 2, 20],
      ["failed", 1, 10],
      ["skipped", 2, 20],
    ]);
  });

  it("moves the delivered part, not the total, as delivery receipts arrive", () => {
    const before = progressBar(progress({ total: 3, sent: 3 }));
    const after = progressBar(progress({ total: 3, sent: 3, delivered: 2 }));
    expect(after.done).toBe(before.done);
    expect(after.parts.find((p) => p.part === "delivered")!.percent).toBeGreaterThan(before.parts.find((p) => p.part === "delivered")!.percent);
  });

  it("is empty, not NaN, for a campaign without rows", () => {
    expect(progressBar(progress({})).percent).toBe(0);
  });
});

describe("campaign controls per state", () => {
  it.each([
    ["scheduled", { pause: true, resume: false, cancel: true }],
    ["running", { pause: true, resume: false, cancel: true }],
    ["quiet_hours", { pause: true, resume: false, cancel: true }],
    ["paused", { pause: false, resume: true, cancel: true }],
    ["done", { pause: false, resume: false, cancel: false }],
    ["cancelled", { pause: false, resume: false, cancel: false }],
  ] as const)("%s → %j", (state, expected) => {
    expect(campaignActions(state)).toEqual(expected);
  });
});

describe("flow editor", () => {
  it("reads an object and reports what is not one", () => {
    expect(parseDefinition('{"name": "x"}')).toEqual({ ok: true, value: { name: "x" } });
    expect(parseDefinition("[1]")).toMatchObject({ ok: false });
    const broken = parseDefinition('{"name": }');
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.message).toMatch(/JSON|Unexpected/);
  });

  it("groups problems under the step they name, flow-level ones under none", () => {
    const problems = [
      { path: "start", field: "start", message: "start: no step 'nope'" },
      { path: "steps.ask_score.buttons[3]", step: "ask_score", field: "buttons[3]", message: "steps.ask_score.buttons[3]: too many" },
      { path: "steps.thanks.next", message: "steps.thanks.next: no step 'x'" },
      { path: "steps.ask_score.var", step: "ask_score", field: "var", message: "steps.ask_score.var: reserved" },
    ];
    expect(groupByStep(problems).map((g) => [g.step, g.problems.length])).toEqual([
      ["", 1],
      ["ask_score", 2],
      ["thanks", 1],
    ]);
    expect(problemStep(problems[2]!)).toBe("thanks");
    expect(problemText(problems[1]!)).toBe("too many");
  });
});
