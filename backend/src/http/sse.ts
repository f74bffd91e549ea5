import type { Request, Response } from "express";

/** Opens a server-sent events stream; returns `send` and cleans up when the client goes away. */
export function openEventStream(req: Request, res: Response, onClose: () => void): (event: string, data: unknown) => void {
  res.status(200).set({
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.flushHeaders();
  const send = (event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  send("ping", { at: Date.now() });
  const heartbeat = setInterval(() => send("ping", { at: Date.now() }), 25_000);
  req.on("close", () => {
    clearInterval(heartbeat);
    onClose();
  });
  return send;
}
