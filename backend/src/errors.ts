/**
 * The one error type that crosses layers. The express error middleware maps it to
 * `{"error": {"code", "message", "field"?}}` with `httpStatus`.
 */
export class AppError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly field?: string;
  readonly details?: unknown;

  constructor(opts: {
    code: string;
    message: string;
    httpStatus?: number;
    retryable?: boolean;
    field?: string;
    details?: unknown;
    cause?: unknown;
  }) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "AppError";
    this.code = opts.code;
    this.httpStatus = opts.httpStatus ?? 500;
    this.retryable = opts.retryable ?? false;
    this.field = opts.field;
    this.details = opts.details;
  }
}

export const badRequest = (message: string, field?: string, code = "invalid_request") =>
  new AppError({ code, message, httpStatus: 400, field });

export const notFound = (what: string) =>
  new AppError({ code: "not_found", message: `${what} not found`, httpStatus: 404 });

export const unauthorized = (message = "missing or invalid credentials") =>
  new AppError({ code: "unauthorized", message, httpStatus: 401 });

export const conflict = (message: string, field?: string) =>
  new AppError({ code: "conflict", message, httpStatus: 409, field });

export const unprocessable = (code: string, message: string, field?: string) =>
  new AppError({ code, message, httpStatus: 422, field });
