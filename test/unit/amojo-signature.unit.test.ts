import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { amojoRequestHeaders, verifyAmojoHookSignature } from "../../backend/src/crm/amocrm/amojo-signature.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/amocrm/${name}`, import.meta.url));

// amocrm.md §4.3: the doc's own examples, reproduced byte-for-byte.
const SECRET = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e";
const SCOPE = "344a5002-f8ca-454d-af3d-396180102ac7_52e591f7-c98f-4255-8495-827210138c81";
const VECTORS = [
  {
    name: "connect",
    file: "amojo-request.connect.json",
    path: "/v2/origin/custom/344a5002-f8ca-454d-af3d-396180102ac7/connect",
    date: "Wed, 15 Dec 2021 23:12:55 +0000",
    md5: "2fbcb3c652b61e24e004daddfc73d0ce",
    signature: "81211856ce0c5095f3e1a90c0a38dc9d736cfd55",
  },
  {
    name: "create chat (PHP json_encode bytes)",
    file: "amojo-request.create-chat.json",
    path: `/v2/origin/custom/${SCOPE}/chats`,
    date: "Thu, 16 Dec 2021 23:22:49 +0000",
    md5: "5139e573382c0eae38f476822abb2014",
    signature: "a601e486d694c8e7e8a5b637660f949f8bb7efaf",
  },
  {
    name: "new_message (PHP json_encode bytes)",
    file: "amojo-request.new-message.json",
    path: `/v2/origin/custom/${SCOPE}`,
    date: "Fri, 17 Dec 2021 10:59:28 +0000",
    md5: "353178c993f09a8ec5f3eab4093b753e",
    signature: "e895539b52051e1a8d3f89d454c7ad7406705234",
  },
];

describe("amojo request signature (doc §4.3 test vectors)", () => {
  it.each(VECTORS)("$name", (v) => {
    const body = fixture(v.file).toString("utf8");
    const headers = amojoRequestHeaders({ secret: SECRET, method: "POST", path: v.path, body, date: new Date(v.date) });
    expect(headers).toEqual({ Date: v.date, "Content-Type": "application/json", "Content-MD5": v.md5, "X-Signature": v.signature });
  });

  it("hashes the bytes it is given: the same JSON value re-serialized by JSON.stringify signs differently", () => {
    const v = VECTORS[1]!;
    const raw = fixture(v.file).toString("utf8");
    const reserialized = JSON.stringify(JSON.parse(raw));
    expect(reserialized).not.toBe(raw);
    const headers = amojoRequestHeaders({ secret: SECRET, method: "POST", path: v.path, body: reserialized, date: new Date(v.date) });
    expect(headers["Content-MD5"]).not.toBe(v.md5);
    expect(headers["X-Signature"]).not.toBe(v.signature);
  });

  it("writes the Date as RFC 2822 with +0000 and a two-digit day", () => {
    const headers = amojoRequestHeaders({ secret: SECRET, method: "GET", path: "/v2/origin/custom/x/chats/c/history", body: "", date: new Date(Date.UTC(2024, 1, 5, 7, 8, 9)) });
    expect(headers.Date).toBe("Mon, 05 Feb 2024 07:08:09 +0000");
    expect(headers["Content-MD5"]).toBe("d41d8cd98f00b204e9800998ecf8427e"); // MD5 of the empty body
  });

  it("signs the path without its query and the method upper-cased", () => {
    const date = new Date("Wed, 15 Dec 2021 23:12:55 +0000");
    const plain = amojoRequestHeaders({ secret: SECRET, method: "GET", path: "/v2/origin/custom/s/chats/c/history", body: "", date });
    const withQuery = amojoRequestHeaders({ secret: SECRET, method: "get", path: "/v2/origin/custom/s/chats/c/history?offset=0&limit=50", body: "", date });
    expect(withQuery["X-Signature"]).toBe(plain["X-Signature"]);
  });
});

describe("chat hook signature (doc §4.9)", () => {
  const CHANNEL_SECRET = "8d2c4b1f0e6a5d3c2b1a09f8e7d6c5b4a3928170";
  const raw = fixture("amojo-hook.manager-reply.json");
  const sign = (body: Buffer | string, secret = CHANNEL_SECRET) => createHmac("sha1", secret).update(body).digest("hex");

  it("accepts the signature of the raw body", () => {
    expect(verifyAmojoHookSignature(raw, sign(raw), CHANNEL_SECRET)).toBe(true);
  });

  it("accepts an upper-case signature", () => {
    expect(verifyAmojoHookSignature(raw, sign(raw).toUpperCase(), CHANNEL_SECRET)).toBe(true);
  });

  it("accepts a body that gained one trailing newline after signing", () => {
    expect(verifyAmojoHookSignature(Buffer.concat([raw, Buffer.from("\n")]), sign(raw), CHANNEL_SECRET)).toBe(true);
  });

  it("accepts a signature made over the body including its trailing newline", () => {
    const withNl = Buffer.concat([raw, Buffer.from("\n")]);
    expect(verifyAmojoHookSignature(withNl, sign(withNl), CHANNEL_SECRET)).toBe(true);
  });

  it.each([
    ["another secret", () => sign(raw, "0000000000000000000000000000000000000000")],
    ["missing header", () => undefined],
    ["empty header", () => ""],
    ["not hex", () => "z".repeat(40)],
    ["a SHA-256 length signature", () => createHmac("sha256", CHANNEL_SECRET).update(raw).digest("hex")],
  ])("refuses %s", (_name, signature) => {
    expect(verifyAmojoHookSignature(raw, signature(), CHANNEL_SECRET)).toBe(false);
  });

  it("refuses a body changed by one byte", () => {
    const changed = Buffer.from(raw.toString("utf8").replace("Your order is ready", "Your order is readY"));
    expect(verifyAmojoHookSignature(changed, sign(raw), CHANNEL_SECRET)).toBe(false);
  });

  it("trims one newline only, not two", () => {
    expect(verifyAmojoHookSignature(Buffer.concat([raw, Buffer.from("\n\n")]), sign(raw), CHANNEL_SECRET)).toBe(false);
  });

  it("checks the signature on raw bytes, not on the parsed JSON", () => {
    const pretty = Buffer.from(JSON.stringify(JSON.parse(raw.toString("utf8")), null, 2));
    expect(verifyAmojoHookSignature(pretty, sign(raw), CHANNEL_SECRET)).toBe(false);
  });
});
