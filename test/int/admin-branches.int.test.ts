import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startTestServer } from "../builders/harness.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe("admin API: branches", () => {
  let s: Server;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  const admin = (method: string, path: string, body?: unknown) => api(s.url, s.adminToken, method, path, body);

  it("refuses requests without the admin token", async () => {
    expect((await api(s.url, "wrong-token", "GET", "/admin/api/branches")).status).toBe(401);
    expect((await fetch(`${s.url}/admin/api/branches`)).status).toBe(401);
  });

  it("creates a branch and shows its key once, stored only as a hash", async () => {
    const r = await admin("POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "inbox", city: "Moscow", keywords: ["арт плей"] });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ code: "ARTPLAY", name: "Art Play", crm: "inbox" });
    expect(r.body.apiKey).toMatch(/^bl_[A-Za-z0-9_-]{43}$/); // 32 random bytes
    expect(r.body.webhookSecret).toBeUndefined();
    const list = await admin("GET", "/admin/api/branches");
    expect(list.body).toEqual(expect.arrayContaining([expect.objectContaining({ id: r.body.id, code: "ARTPLAY", crm: "inbox", enabled: true })]));
    const raw = JSON.stringify(list.body);
    expect(raw).not.toContain(r.body.apiKey);
    expect(raw).not.toContain("keyHash");
    const files = await s.store.read((tx) => tx.get("branches", r.body.id));
    expect(JSON.stringify(files)).not.toContain(r.body.apiKey);
    // The key works for the branch's own inbox API.
    const me = await api(s.url, r.body.apiKey, "GET", "/inbox/api/me");
    expect(me.body.branch.code).toBe("ARTPLAY");
  });

  it("refuses a duplicate code (case-insensitive) with 409", async () => {
    await admin("POST", "/admin/api/branches", { name: "Lab", code: "LAB1", crm: "inbox" });
    const dup = await admin("POST", "/admin/api/branches", { name: "Lab again", code: "lab1", crm: "inbox" });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: "conflict", field: "code" });
  });

  it.each([
    [{ code: "X1", crm: "inbox" }, "name"],
    [{ name: "A", code: "!", crm: "inbox" }, "code"],
    [{ name: "A", code: "AA", crm: "telegram" }, "crm"],
    [{ name: "A", code: "AB", crm: "webhook" }, "webhookUrl"],
    [{ name: "A", code: "AC", crm: "webhook", webhookUrl: "ftp://x" }, "webhookUrl"],
    [{ name: "A", code: "AD", crm: "inbox", colour: "red" }, "colour"],
    [{ name: "A", code: "AE", crm: "inbox", keywords: "spa" }, "keywords"],
  ])("refuses %j naming the field %s, and creates nothing", async (body, field) => {
    const before = (await admin("GET", "/admin/api/branches")).body.length;
    const r = await admin("POST", "/admin/api/branches", body);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
    expect(r.body.error.message).toContain(field);
    expect((await admin("GET", "/admin/api/branches")).body).toHaveLength(before);
  });

  it("refuses a body that is not JSON with 400", async () => {
    const r = await api(s.url, s.adminToken, "POST", "/admin/api/branches", "{oops");
    expect(r.status).toBe(400);
  });

  it("creates a webhook branch with its signing secret shown once", async () => {
    const r = await admin("POST", "/admin/api/branches", { name: "Hooked", code: "HOOK", crm: "webhook", webhookUrl: "https://crm.example.com/hook" });
    expect(r.status).toBe(201);
    expect(r.body.webhookSecret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(JSON.stringify((await admin("GET", `/admin/api/branches/${r.body.id}`)).body)).not.toContain(r.body.webhookSecret);
    const rotated = await admin("POST", `/admin/api/branches/${r.body.id}/rotate-webhook-secret`);
    expect(rotated.body.webhookSecret).not.toBe(r.body.webhookSecret);
  });

  it("updates, disables, enables and rotates keys", async () => {
    const created = (await admin("POST", "/admin/api/branches", { name: "Nails", code: "NAILS", crm: "inbox" })).body;
    const patched = await admin("PATCH", `/admin/api/branches/${created.id}`, { name: "Nails Center", keywords: ["маникюр"], city: "Kazan" });
    expect(patched.body).toMatchObject({ name: "Nails Center", keywords: ["маникюр"], city: "Kazan" });
    expect((await admin("PATCH", `/admin/api/branches/${created.id}`, { code: "LAB1" })).status).toBe(409);
    expect((await admin("PATCH", `/admin/api/branches/${created.id}`, { size: 3 })).status).toBe(400);
    expect((await admin("PATCH", "/admin/api/branches/br_nope", { name: "x" })).status).toBe(404);

    const disabled = await admin("POST", `/admin/api/branches/${created.id}/disable`);
    expect(disabled.body.enabled).toBe(false);
    expect((await api(s.url, created.apiKey, "GET", "/inbox/api/me")).status).toBe(401);
    await admin("POST", `/admin/api/branches/${created.id}/enable`);
    expect((await api(s.url, created.apiKey, "GET", "/inbox/api/me")).status).toBe(200);

    const rotated = await admin("POST", `/admin/api/branches/${created.id}/rotate-key`);
    expect(rotated.body.apiKey).not.toBe(created.apiKey);
    expect((await api(s.url, created.apiKey, "GET", "/inbox/api/me")).status).toBe(401);
    expect((await api(s.url, rotated.body.apiKey, "GET", "/inbox/api/me")).status).toBe(200);
  });

  it("keeps one HQ: marking a branch HQ unmarks the previous one", async () => {
    const a = (await admin("POST", "/admin/api/branches", { name: "HQ1", code: "HQ1", crm: "inbox", isHq: true })).body;
    const b = (await admin("POST", "/admin/api/branches", { name: "HQ2", code: "HQ2", crm: "inbox", isHq: true })).body;
    const all = (await admin("GET", "/admin/api/branches")).body as Array<{ id: string; isHq: boolean }>;
    expect(all.filter((x) => x.isHq).map((x) => x.id)).toEqual([b.id]);
    expect(all.find((x) => x.id === a.id)?.isHq).toBe(false);
  });

  it("reads and changes routing settings with validation", async () => {
    const r = await admin("PATCH", "/admin/api/settings/routing", { bindingTtlDays: 7, changeBranchPhrases: ["другой салон"] });
    expect(r.status).toBe(200);
    expect(r.body.bindingTtlMs).toBe(7 * 86_400_000);
    expect(r.body.changeBranchPhrases).toEqual(["другой салон"]);
    expect((await admin("PATCH", "/admin/api/settings/routing", { bindingTtlDays: -1 })).status).toBe(400);
    expect((await admin("GET", "/admin/api/settings/routing")).body.bindingTtlMs).toBe(7 * 86_400_000);
  });
});
