import { Router } from "express";
import { z } from "zod";
import { SandboxPhone, phoneMessage } from "../sandbox/sandbox-phone.js";
import type { EventBus } from "../events/event-bus.js";
import type { Store } from "../store/store.port.js";
import { pageShell } from "./pages.js";
import { openEventStream } from "./sse.js";
import { validate } from "./validate.js";

const phoneParam = z.string().regex(/^\d{6,15}$/, "must be 6–15 digits, country code first (e.g. 79161234567)");
const sendSchema = z.union([
  z.strictObject({ name: z.string().max(100).optional(), text: z.string().trim().min(1, "must not be empty").max(4096) }),
  z.strictObject({
    name: z.string().max(100).optional(),
    reply: z.strictObject({ type: z.enum(["button_reply", "list_reply"]), id: z.string().min(1).max(256), title: z.string().min(1).max(100) }),
    contextId: z.string().min(1).max(300).optional(),
  }),
]);

/** The simulated phone (sandbox mode only). No auth: it only exists when no WhatsApp account is configured. */
export function sandboxRouter(deps: { store: Store; bus: EventBus; phone: SandboxPhone }): Router {
  const router = Router();
  router.get("/sandbox", (_req, res) => {
    res.type("html").send(pageShell("Branchline sandbox phone", "sandbox.js"));
  });

  router.get("/sandbox/api/phones", async (_req, res) => {
    const customers = await deps.store.read((tx) => tx.list("customers"));
    res.json({ phones: customers.filter((c) => c.waId).sort((a, b) => b.updatedAt - a.updatedAt).map((c) => ({ phone: c.waId, name: c.name })) });
  });

  router.get("/sandbox/api/phones/:phone/messages", async (req, res) => {
    const phone = validate(phoneParam, req.params.phone);
    const messages = await deps.store.read(async (tx) => {
      const customer = (await tx.byIndex("customers", "waId", phone))[0];
      return customer ? tx.byIndex("messages", "customerId", customer.id) : [];
    });
    res.json({ messages: messages.map(phoneMessage) });
    void deps.phone.markRead(phone, messages).catch(() => undefined);
  });

  router.post("/sandbox/api/phones/:phone/messages", async (req, res) => {
    const phone = validate(phoneParam, req.params.phone);
    const body = validate(sendSchema, req.body);
    const id = await deps.phone.sendFromCustomer(phone, body);
    res.status(202).json({ id });
  });

  router.get("/sandbox/api/stream", (req, res) => {
    const phone = validate(phoneParam, req.query.phone);
    const offs: Array<() => void> = [deps.phone.watch(phone)];
    const send = openEventStream(req, res, () => offs.forEach((off) => off()));
    offs.push(
      deps.bus.on("phone.message", (e) => e.phone === phone && send("message", e.message)),
      deps.bus.on("phone.status", (e) => e.phone === phone && send("status", { id: e.id, status: e.status })),
    );
  });

  return router;
}
