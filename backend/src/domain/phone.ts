/**
 * Phone numbers as people type them, as E.164 and as WhatsApp's `wa_id`. Pure: no I/O, no
 * country database — only the rules the Cloud API makes us care about.
 * @see https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages (phone number formats)
 */

export type NormalizedPhone = { ok: true; e164: string; digits: string } | { ok: false; reason: string };

const MIN_DIGITS = 8;
const MAX_DIGITS = 15;

/** Country-code blocks the ITU keeps spare: nobody can have such a number. */
const SPARE_PREFIXES = ["28", "83", "89"];

/**
 * Reads a phone number typed by a person or a CRM and returns it as E.164 (`+79161234567`) and
 * as bare digits (`79161234567`, the form of `wa_id`).
 *
 * Accepted: a leading `+`, spaces, `-`, `(`, `)`, dots, the `00` international prefix, Russian
 * domestic `8XXXXXXXXXX` (11 digits starting with 8 and no `+`/`00`, read as `+7XXXXXXXXXX`).
 * Digits without any prefix are read as already international (the `wa_id` form).
 *
 * Refused: letters and other characters, a `+` anywhere but first, fewer than 8 or more than 15
 * digits, a number starting with 0 after the prefix is removed (no country code starts with 0),
 * ITU spare country-code blocks (28x, 83x, 89x), and `+1`/`+7` numbers that are not 11 digits
 * long (both numbering plans have a fixed length).
 */
export function normalizePhone(input: string): NormalizedPhone {
  const raw = input.trim();
  if (raw === "") return { ok: false, reason: "the phone number is empty" };
  if (/[^\d\s+().-]/.test(raw)) return { ok: false, reason: "the phone number contains characters other than digits, +, spaces, dots, dashes and brackets" };
  const plusCount = (raw.match(/\+/g) ?? []).length;
  if (plusCount > 1 || (plusCount === 1 && !raw.startsWith("+"))) return { ok: false, reason: "a + is only allowed at the start of the number" };

  let digits = raw.replace(/\D/g, "");
  if (digits === "") return { ok: false, reason: "the phone number has no digits" };
  if (plusCount === 0) {
    if (digits.startsWith("00")) digits = digits.slice(2);
    else if (digits.length === 11 && digits.startsWith("8")) digits = `7${digits.slice(1)}`;
  }

  if (digits.startsWith("0")) return { ok: false, reason: "the number must start with a country code (no country code starts with 0)" };
  if (digits.length < MIN_DIGITS) return { ok: false, reason: `the number is too short: ${digits.length} digits with the country code, at least ${MIN_DIGITS} expected` };
  if (digits.length > MAX_DIGITS) return { ok: false, reason: `the number is too long: ${digits.length} digits, at most ${MAX_DIGITS} allowed` };
  if (SPARE_PREFIXES.some((p) => digits.startsWith(p))) return { ok: false, reason: `+${digits.slice(0, 3)} is not a country code` };
  if ((digits.startsWith("1") || digits.startsWith("7")) && digits.length !== 11) {
    return { ok: false, reason: `a +${digits[0]} number has 11 digits with the country code, this one has ${digits.length}` };
  }
  return { ok: true, e164: `+${digits}`, digits };
}

/**
 * The `wa_id` forms WhatsApp may use for this number; the first element is the number's own
 * digits. Accepts E.164 with or without `+` (anything that is not a digit is ignored).
 *
 * - Brazil (`55`): mobiles gained a leading 9 (`55 DD 9XXXXXXXX`, 13 digits) but older accounts
 *   are registered without it (12 digits) — both forms are returned. A 12-digit number is given
 *   the 9 only if it looks like a mobile (subscriber part starting with 6–9; landlines start 2–5).
 * - Mexico (`52`): WhatsApp may answer with the legacy mobile `1` (`521…`, 13 digits) while
 *   E.164 is `52…` (12 digits) — both forms are returned.
 * - Everyone else: just the digits.
 */
export function waIdCandidates(e164: string): string[] {
  const digits = e164.replace(/\D/g, "");
  if (digits === "") return [];
  const out = [digits];
  if (digits.startsWith("55")) {
    // 55 + DDD (2) + [9] + 8 digits
    if (digits.length === 13 && digits[4] === "9") out.push(digits.slice(0, 4) + digits.slice(5));
    else if (digits.length === 12 && /[6-9]/.test(digits[4] ?? "")) out.push(`${digits.slice(0, 4)}9${digits.slice(4)}`);
  } else if (digits.startsWith("52")) {
    // 52 + [1] + 10 digits
    if (digits.length === 13 && digits[2] === "1") out.push(`52${digits.slice(3)}`);
    else if (digits.length === 12) out.push(`521${digits.slice(2)}`);
  }
  return out;
}

/**
 * True when two numbers reach the same WhatsApp user: a CRM's `8 (916) 123-45-67` and a
 * `wa_id` of `79161234567`, or a Brazilian E.164 with the extra 9 and a `wa_id` without it.
 * Numbers that cannot be read are never the same as anything.
 *
 * A bare 11-digit string starting with 8 is also compared as it is (not only as Russian
 * domestic), because it may be a `wa_id` such as a Korean `82…` one.
 */
export function samePhone(a: string, b: string): boolean {
  const left = keys(a);
  if (left.size === 0) return false;
  for (const k of keys(b)) if (left.has(k)) return true;
  return false;
}

function keys(input: string): Set<string> {
  const out = new Set<string>();
  const n = normalizePhone(input);
  if (n.ok) for (const c of waIdCandidates(n.e164)) out.add(c);
  const bare = input.trim();
  if (/^8\d{10}$/.test(bare)) {
    const asIs = normalizePhone(`+${bare}`);
    if (asIs.ok) for (const c of waIdCandidates(asIs.e164)) out.add(c);
  }
  return out;
}

/**
 * A phone as CRM users type it: Russian and Kazakh numbers are often written with the domestic
 * trunk prefix (`8 916 123-45-67`), which is `+7` in international form.
 */
export function normalizeCrmPhone(input: string): NormalizedPhone {
  const digits = input.replace(/\D/g, "");
  if (!input.trim().startsWith("+") && digits.length === 11 && digits.startsWith("8")) return normalizePhone(`+7${digits.slice(1)}`);
  return normalizePhone(input);
}
