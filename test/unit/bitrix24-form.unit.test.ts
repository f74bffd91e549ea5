import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { applicationTokenMatches, operatorMessages, parseB24Event } from "../../backend/src/crm/bitrix24/bitrix24-events.js";
import { installFromEvent, installFromForm, isTrustedOAuthServer } from "../../backend/src/crm/bitrix24/bitrix24.oauth.js";
import { parseNestedForm } from "../../backend/src/crm/bitrix24/form-body.js";
import { AppError } from "../../backend/src/errors.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/bitrix24/${name}`, import.meta.url), "utf8");

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error("expected a throw");
}

describe("parseNestedForm", () => {
  it("reads the six-level keys of an operator message with files (percent-encoded brackets)", () => {
    const body = parseNestedForm(
      "data%5BMESSAGES%5D%5B0%5D%5Bmessage%5D%5Bfiles%5D%5B0%5D%5BdownloadLink%5D=%2Frest%2Fdownload.json%3Ftoken%3Dabc&data[MESSAGES][0][message][text]=Guten+Tag%21",
    );
    expect(body).toEqual({ data: { MESSAGES: [{ message: { files: [{ downloadLink: "/rest/download.json?token=abc" }], text: "Guten Tag!" } }] } });
  });

  it("makes arrays of 0..n-1 keys in any order, keeps other integer keys as objects", () => {
    const body = parseNestedForm("a[1]=y&a[0]=x&b[3]=p&b[7]=q&c[0]=z&c[name]=n");
    expect(body.a).toEqual(["x", "y"]);
    expect(Array.isArray(body.b)).toBe(false);
    expect(body.b).toEqual({ 3: "p", 7: "q" });
    expect(body.c).toEqual({ 0: "z", name: "n" });
  });

  it("appends for [] and continues after the highest index, as PHP does", () => {
    expect(parseNestedForm("v[]=a&v[]=b&v[5]=c&v[]=d")).toEqual({ v: { 0: "a", 1: "b", 5: "c", 6: "d" } });
    expect(parseNestedForm("properties[vars][]=Ana&properties[vars][]=%234711")).toEqual({ properties: { vars: ["Ana", "#4711"] } });
  });

  it("lets the last of repeated keys win, also when a scalar meets a nested key", () => {
    expect(parseNestedForm("a=1&a=2")).toEqual({ a: "2" });
    expect(parseNestedForm("a=1&a[b]=2")).toEqual({ a: { b: "2" } });
    expect(parseNestedForm("a[b]=2&a=1")).toEqual({ a: "1" });
  });

  it("keeps bare keys, empty values, unicode and unclosed brackets", () => {
    expect(parseNestedForm("flag&empty=&name=%D0%90%D0%BD%D1%8F+%F0%9F%98%80&odd[a=1&&")).toEqual({ flag: "", empty: "", name: "Аня 😀", "odd[a": "1" });
  });

  it.each(["__proto__[polluted]=1", "a[__proto__][polluted]=1", "constructor[prototype][polluted]=1", "a[constructor][prototype]=1", "prototype=1"])(
    "drops the pollution key %s",
    (raw) => {
      const body = parseNestedForm(`${raw}&ok=1`);
      expect(body).toEqual({ ok: "1" });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    },
  );

  it("refuses keys deeper than the limit, naming the key", () => {
    const deep = `a${"[x]".repeat(21)}=1`;
    const err = thrown(() => parseNestedForm(deep));
    expect(err).toMatchObject({ code: "bad_form", httpStatus: 400 });
    expect(err.field).toBe(deep.slice(0, deep.indexOf("=")));
    expect(parseNestedForm(`a${"[x]".repeat(20)}=1`)).toBeTruthy();
  });

  it("refuses too many pairs", () => {
    const raw = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join("&");
    expect(thrown(() => parseNestedForm(raw, { maxKeys: 10 }))).toMatchObject({ code: "bad_form", httpStatus: 400 });
    expect(Object.keys(parseNestedForm(raw, { maxKeys: 11 }))).toHaveLength(11);
  });

  it.each([
    ["data[text]=%E0%A4%A", "data[text]"],
    ["data%5Bte%ZZxt%5D=1", "data%5Bte%ZZxt%5D"],
    ["a=%", "a"],
  ])("answers 400 bad_form for malformed percent-encoding in %s", (raw, field) => {
    const err = thrown(() => parseNestedForm(raw));
    expect(err).toMatchObject({ code: "bad_form", httpStatus: 400, field });
    expect(err.message).toContain(field);
  });

  it("reads the robot handler POST of the doc (§5.2)", () => {
    const body = parseNestedForm(fixture("robot.wa-send-template.txt"));
    expect(body).toMatchObject({
      code: "wa_send_template",
      document_id: ["crm", "CCrmDocumentDeal", "DEAL_123"],
      document_type: ["crm", "CCrmDocumentDeal", "DEAL"],
      properties: { template: "order_ready|es", phone: "+15551234567", vars: ["Ana", "#4711"] },
      use_subscription: "Y",
      auth: { member_id: "a223c6b3710f85df22e9377d6c4f7553", application_token: "51856fefc120afa4b628cc82d3935cce" },
    });
    expect(String(body.event_token)).toContain("|A51601_82584_96831_81132|");
  });
});

describe("parseB24Event", () => {
  it("reads the doc's ONIMCONNECTORMESSAGEADD (§4.5)", () => {
    const event = parseB24Event(fixture("onimconnectormessageadd.text.txt"));
    expect(event).toMatchObject({
      event: "ONIMCONNECTORMESSAGEADD",
      ts: "1773759161",
      eventHandlerId: "555",
      auth: {
        domain: "some-domain.bitrix24.com",
        memberId: "bac1d5e5c1b5d9fd0e37d8b9f6a3c1e2",
        applicationToken: "831c4e6a4d7c2f6d3f0a9b8e7c6d5a41",
        expiresIn: 3600,
        clientEndpoint: "https://some-domain.bitrix24.com/rest/",
        userId: "27",
      },
    });
    expect(event.auth.refreshToken).toBeUndefined();
    expect(operatorMessages(event)).toEqual([
      {
        connector: "myconnector",
        lineId: "107",
        chatId: "channel-123",
        imChatId: "1807",
        messageId: "86497",
        text: "[b]Klaus Weber:[/b] [br]Guten Tag!",
        files: [],
        userId: "27",
        system: false,
        raw: { im: { chat_id: "1807", message_id: "86497" }, message: { user_id: "27", text: "[b]Klaus Weber:[/b] [br]Guten Tag!" }, chat: { id: "channel-123" } },
      },
    ]);
  });

  it("reads operator files and makes a relative downloadLink absolute on the portal", () => {
    const [m] = operatorMessages(parseB24Event(fixture("onimconnectormessageadd.files.txt")));
    expect(m!.text).toBeUndefined();
    expect(m!.files).toEqual([
      { name: "Price list.pdf", link: "https://some-domain.bitrix24.com/rest/download.json?auth=x&token=disk%7CaWQ9MTIzJl89", size: 48213, type: "application/pdf" },
      { name: "photo.jpg", link: "https://some-domain.bitrix24.com/disk/showFile/77/?&ncc=1&ts=1773759170", size: 120431, type: "image/jpeg" },
    ]);
  });

  it("returns every message of one event and flags user_id 0 as a system message", () => {
    const list = operatorMessages(parseB24Event(fixture("onimconnectormessageadd.multi.txt")));
    expect(list.map((m) => [m.messageId, m.system, m.userId])).toEqual([
      ["86501", true, "0"],
      ["86502", false, "27"],
    ]);
  });

  it("reads ONAPPINSTALL with its refresh token, and install data from it", () => {
    const event = parseB24Event(fixture("onappinstall.basic.txt"));
    expect(event.event).toBe("ONAPPINSTALL");
    expect(event.data).toEqual({ VERSION: "1.0.0", ACTIVE: "Y", INSTALLED: "Y", LANGUAGE_ID: "de" });
    expect(operatorMessages(event)).toEqual([]);
    const install = installFromEvent(event, 1_000_000);
    expect(install).toMatchObject({
      memberId: "a223c6b3710f85df22e9377d6c4f7553",
      domain: "some-domain.bitrix24.com",
      clientEndpoint: "https://some-domain.bitrix24.com/rest/",
      applicationToken: "51856fefc120afa4b628cc82d3935cce",
      tokens: { accessToken: "s6p6eclrvim6da22ft9ch94ekreb52lv", refreshToken: "4s386p3q0tr8dy89xvmt96234v3dljg8", expiresAt: 1_000_000 + 3_600_000 },
    });
  });

  it("reads ONAPPUNINSTALL (no tokens) and a scalar data field", () => {
    const un = parseB24Event(fixture("onappuninstall.clean.txt"));
    expect(un).toMatchObject({ event: "ONAPPUNINSTALL", data: { CLEAN: "1" }, auth: { memberId: "a223c6b3710f85df22e9377d6c4f7553" } });
    expect(un.auth.accessToken).toBeUndefined();
    expect(() => installFromEvent(un)).toThrow(/access_token/);
    expect(parseB24Event(fixture("onimconnectorlinedelete.basic.txt")).data).toBe("107");
  });

  it.each([
    ["auth[domain]=x.bitrix24.com&auth[member_id]=m", "event"],
    ["event=ONAPPUNINSTALL", "auth"],
    ["event=ONAPPUNINSTALL&auth[member_id]=m", "auth[domain]"],
    ["event=ONAPPUNINSTALL&auth[domain]=x.bitrix24.com", "auth[member_id]"],
    ["event=ONAPPUNINSTALL&auth=flat&x", "auth"],
  ])("answers 400 bad_event for %s naming %s", (raw, field) => {
    expect(thrown(() => parseB24Event(raw))).toMatchObject({ code: "bad_event", httpStatus: 400, field });
  });

  it("turns a malformed body into bad_event", () => {
    expect(thrown(() => parseB24Event("event=ONAPPINSTALL&auth[domain]=%zz"))).toMatchObject({ code: "bad_event", httpStatus: 400, field: "auth[domain]" });
  });

  it.each([
    ["data[LINE]=107&data[MESSAGES][0][chat][id]=1&data[MESSAGES][0][im][message_id]=2", "data[CONNECTOR]"],
    ["data[CONNECTOR]=c&data[MESSAGES][0][chat][id]=1&data[MESSAGES][0][im][message_id]=2", "data[LINE]"],
    ["data[CONNECTOR]=c&data[LINE]=107&data[MESSAGES][0][im][message_id]=2", "data[MESSAGES][0][chat][id]"],
    ["data[CONNECTOR]=c&data[LINE]=107&data[MESSAGES][0][chat][id]=1", "data[MESSAGES][0][im][message_id]"],
  ])("refuses an operator message without a required field (%#)", (data, field) => {
    const event = parseB24Event(`event=ONIMCONNECTORMESSAGEADD&${data}&auth[domain]=x.bitrix24.com&auth[member_id]=m`);
    expect(thrown(() => operatorMessages(event))).toMatchObject({ code: "bad_event", field });
  });
});

describe("applicationTokenMatches", () => {
  const event = parseB24Event(fixture("onappuninstall.clean.txt"));

  it.each([
    ["51856fefc120afa4b628cc82d3935cce", true],
    ["51856fefc120afa4b628cc82d3935ccf", false],
    ["51856fefc120afa4b628cc82d3935cc", false],
    ["", false],
  ])("stored %j → %s", (stored, ok) => {
    expect(applicationTokenMatches(event, stored)).toBe(ok);
  });

  it("is false when the event carries no token", () => {
    expect(applicationTokenMatches(parseB24Event("event=ONAPPUNINSTALL&auth[domain]=x.bitrix24.com&auth[member_id]=m"), "51856fefc120afa4b628cc82d3935cce")).toBe(false);
  });
});

describe("installFromForm", () => {
  const body = parseNestedForm(fixture("install.installer-body.txt"));
  const query = Object.fromEntries(new URLSearchParams(fixture("install.installer-query.txt")));

  it("reads the installer POST of the doc (§1.3) and builds the client endpoint from DOMAIN/PROTOCOL", () => {
    expect(installFromForm(body, query, 5_000)).toEqual({
      memberId: "a223c6b3710f85df22e9377d6c4f7553",
      domain: "portal.bitrix24.com",
      clientEndpoint: "https://portal.bitrix24.com/rest/",
      serverEndpoint: "https://oauth.bitrix.info/rest/",
      applicationToken: "ec1b2074a9d3f5c81b6e40d27a95cf38",
      tokens: { accessToken: "ahodg4h37n89vo17gbkgq0x1l825nnb5", refreshToken: "2lg086mxijlpvwh0h7r4nl19udm4try5", expiresAt: 5_000 + 3_600_000 },
      scope: "crm,entity,im,task",
      status: "F",
    });
    expect(installFromForm(body, { ...query, PROTOCOL: "0", DOMAIN: "127.0.0.1:8080" }).clientEndpoint).toBe("http://127.0.0.1:8080/rest/");
  });

  it.each(["member_id", "AUTH_ID", "REFRESH_ID"])("answers 400 naming a missing %s", (name) => {
    const { [name]: _gone, ...rest } = body;
    expect(thrown(() => installFromForm(rest, query))).toMatchObject({ code: "bad_install", httpStatus: 400, field: name });
  });

  it.each([undefined, "", "evil.com/path?x", "a b", "user@host"])("refuses DOMAIN %j", (domain) => {
    expect(thrown(() => installFromForm(body, { ...query, DOMAIN: domain }))).toMatchObject({ code: "bad_install", field: "DOMAIN" });
  });

  it.each([
    ["https://oauth.bitrix.info/rest/", true],
    ["https://oauth.bitrix24.tech/rest/", true],
    ["http://oauth.bitrix.info/rest/", false],
    ["https://oauth.bitrix.info.evil.com/rest/", false],
    ["https://oauth.bitrix.info:8443/rest/", false],
    ["not a url", false],
  ])("trusts server endpoint %s: %s", (url, ok) => {
    expect(isTrustedOAuthServer(url)).toBe(ok);
  });
});
