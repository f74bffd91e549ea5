import { createHash } from "node:crypto";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, postWebhook, startReceiver, startTestServer, waitFor } from "../builders/harness.js";
import { NUMBER } from "../builders/meta-payloads.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** A tiny valid-looking JPEG body; the checks are on type, size and sha256, not on pixels. */
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2048, 7), Buffer.from([0xff, 0xd9])]);
const SHA = createHash("sha256").update(JPEG).digest("base64");

describe("inbound media reaches the branch as a signed link, in order", () => {
  let s: Server;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    // GET /{media-id} → a 5-minute URL; the first download finds it expired (404), the second works.
    nock("http://graph.test")
      .persist()
      .get("/v25.0/1003383421387256")
      .query(true)
      .reply(200, () => ({ messaging_product: "whatsapp", url: `http://lookaside.test/whatsapp_business/attachments/?mid=1003383421387256&n=${Date.now()}`, mime_type: "image/jpeg", sha256: SHA, file_size: String(JPEG.length), id: "1003383421387256" }));
    nock("http://lookaside.test").get("/whatsapp_business/attachments/").query(true).reply(404, "expired");
    nock("http://lookaside.test").get("/whatsapp_business/attachments/").query(true).matchHeader("authorization", "Bearer test-token").reply(200, JPEG, { "content-type": "image/jpeg" });
    s = await startTestServer();
    receiver = await startReceiver([200]);
    await api(s.url, s.adminToken, "POST", "/admin/api/branches", { name: "Art Play", code: "ARTPLAY", crm: "webhook", webhookUrl: receiver.url, isHq: true });
  });
  afterAll(async () => {
    await s.close();
    await receiver.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it("downloads the photo before the CRM hears of it, and serves it only through the signed URL", async () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const value = {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: NUMBER.display, phone_number_id: NUMBER.phoneNumberId },
      contacts: [{ profile: { name: "Sheena Nelson" }, wa_id: "16505551234" }],
      messages: [
        { from: "16505551234", id: "wamid.IMG1", timestamp: ts, type: "image", image: { caption: "Taj Mahal", mime_type: "image/jpeg", sha256: SHA, id: "1003383421387256" } },
        { from: "16505551234", id: "wamid.TXT2", timestamp: ts, type: "text", text: { body: "what do you think?" } },
      ],
    };
    await postWebhook(s.url, { object: "whatsapp_business_account", entry: [{ id: NUMBER.waba, changes: [{ field: "messages", value }] }] });
    await waitFor(() => receiver.received.length >= 2, "both messages at the CRM");
    const [photo, text] = receiver.received.map((h) => h.body.message);
    expect(photo.kind).toBe("image");
    expect(text.text).toBe("what do you think?");
    expect(photo.media).toMatchObject({ status: "stored", mimeType: "image/jpeg", caption: "Taj Mahal" });
    expect(photo.media.url).toMatch(/^http:\/\/localhost:\d+\/media\/in_[\w-]+\?exp=\d+&sig=[\w-]+$/);

    const link = new URL(photo.media.url);
    const file = await fetch(`${s.url}${link.pathname}${link.search}`);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await file.arrayBuffer()).equals(JPEG)).toBe(true);
    expect((await fetch(`${s.url}${link.pathname}?exp=${link.searchParams.get("exp")}&sig=forged`)).status).toBe(403);
    expect((await fetch(`${s.url}${link.pathname}`)).status).toBe(403);
  });
});
