import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../backend/src/config.js";

const prod = { WHATSAPP_ACCESS_TOKEN: "t", WHATSAPP_APP_SECRET: "s", WHATSAPP_VERIFY_TOKEN: "v", WHATSAPP_PHONE_NUMBER_ID: "106540352242922" };

describe("configuration", () => {
  it("applies the contract's defaults and starts in sandbox mode without a token", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 3000, DATA_DIR: "./data", LOG_LEVEL: "info", WHATSAPP_GRAPH_URL: "https://graph.facebook.com/v25.0", WHATSAPP_MPS: 80, AMOCRM_SCHEME: "https", AMOJO_URL: "https://amojo.amocrm.ru", sandbox: true });
    expect(c.PUBLIC_URL).toBe("http://localhost:3000");
    expect(c.AMOCRM_REDIRECT_URI).toBe("http://localhost:3000/amocrm/oauth");
  });

  it("derives PUBLIC_URL from PORT and leaves sandbox mode with a token", () => {
    expect(loadConfig({ PORT: "8080" }).PUBLIC_URL).toBe("http://localhost:8080");
    expect(loadConfig({ ...prod, PUBLIC_URL: "https://wa.example.com/" }).PUBLIC_URL).toBe("https://wa.example.com");
    expect(loadConfig(prod).sandbox).toBe(false);
  });

  it.each([
    [{ PORT: "http" }, "PORT"],
    [{ WHATSAPP_MPS: "0" }, "WHATSAPP_MPS"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ PUBLIC_URL: "not a url" }, "PUBLIC_URL"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
    [{ ADMIN_TOKEN: "short" }, "ADMIN_TOKEN"],
    [{ AMOCRM_SCHEME: "ftp" }, "AMOCRM_SCHEME"],
    [{ WHATSAPP_ACCESS_TOKEN: "t" }, "WHATSAPP_APP_SECRET"],
    [{ ...prod, WHATSAPP_PHONE_NUMBER_ID: "+1 555" }, "WHATSAPP_PHONE_NUMBER_ID"],
  ])("refuses %j naming %s", (env, setting) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe(setting);
    expect((error as ConfigError).message.startsWith(`${setting}: `)).toBe(true);
    expect((error as ConfigError).message).not.toContain("\n");
  });
});
