import type { ErrorRequestHandler } from "express";
import { AppError } from "../errors.js";
import type { Logger } from "../ops/logger.js";

/** The one place errors become HTTP answers: `{"error": {"code", "message", "field"?}}`. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toAppError(err);
    if (e.httpStatus >= 500) logger.error({ err, method: req.method, path: req.path }, "request failed");
    if (res.headersSent) return;
    res.status(e.httpStatus).json({ error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}), ...(e.details && e.httpStatus < 500 ? { details: e.details } : {}) } });
  };
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const type = (err as { type?: string }).type;
  if (type === "entity.too.large") return new AppError({ code: "payload_too_large", message: "request body is larger than allowed", httpStatus: 413 });
  if (type === "entity.parse.failed") return new AppError({ code: "invalid_json", message: "request body is not valid JSON", httpStatus: 400 });
  const status = (err as { status?: number }).status;
  if (typeof status === "number" && status >= 400 && status < 500) return new AppError({ code: "bad_request", message: (err as Error).message, httpStatus: status });
  return new AppError({ code: "internal", message: "internal error", httpStatus: 500, cause: err });
}
