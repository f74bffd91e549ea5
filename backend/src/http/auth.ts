import type { NextFunction, Request, RequestHandler, Response } from "express";
import { unauthorized } from "../errors.js";
import type { Branch } from "../domain/types.js";
import { hashApiKey, safeEqual } from "../security/api-keys.js";
import type { Store } from "../store/store.port.js";

export function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith("Bearer ")) return undefined;
  return header.slice("Bearer ".length).trim() || undefined;
}

export function requireAdmin(adminToken: string): RequestHandler {
  return (req, _res, next) => {
    const token = bearer(req);
    if (!token || !safeEqual(token, adminToken)) return next(unauthorized("missing or invalid admin token"));
    next();
  };
}

/** Ties the request to exactly one enabled branch; everything downstream reads `res.locals.branch`. */
export function requireBranch(store: Store): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = bearer(req);
    if (!key) return next(unauthorized("missing branch key"));
    const hash = hashApiKey(key);
    const branch = await store.read(async (tx) => (await tx.byIndex("branches", "keyHash", hash))[0]);
    if (!branch || !safeEqual(branch.keyHash, hash) || !branch.enabled) return next(unauthorized("invalid branch key"));
    res.locals.branch = branch;
    next();
  };
}

export const branchOf = (res: Response) => res.locals.branch as Branch;
