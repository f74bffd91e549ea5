/**
 * Marketing opt-out by the customer's own words. The whole message must be the word (after
 * trimming, case and punctuation), so "stop by tomorrow?" does not unsubscribe anyone.
 */
export const DEFAULT_OPT_OUT_WORDS = ["stop", "unsubscribe", "стоп", "отписаться", "отписка", "отпишите"];
export const DEFAULT_OPT_IN_WORDS = ["start", "subscribe", "старт", "подписаться"];

const normalise = (s: string) =>
  s
    .toLowerCase()
    .replace(/ё/g, "е")
    .replace(/[\p{P}\p{S}]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();

export type OptChange = "opt_out" | "opt_in" | undefined;

export function optChangeOf(text: string | undefined, words: { optOut: string[]; optIn: string[] }): OptChange {
  if (!text) return undefined;
  const t = normalise(text);
  if (!t) return undefined;
  if (words.optOut.some((w) => normalise(w) === t)) return "opt_out";
  if (words.optIn.some((w) => normalise(w) === t)) return "opt_in";
  return undefined;
}
