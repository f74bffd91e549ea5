import { expect } from "vitest";
import { AppError } from "../../backend/src/errors.js";

/** The AppError a call rejects with (the test fails if it resolves or rejects with anything else). */
export async function appErrorOf(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}
