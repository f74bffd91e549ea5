import { z } from "zod";
import type { Tx } from "../store/store.port.js";

export const ALERT_SETTINGS_ID = "alerts";

/**
 * When operators are called again. Times count from the handover: at `renotifyAfterMinutes` the
 * branch's operators are reminded, at `escalateAfterMinutes` the HQ branch's operators are called —
 * each only if nobody of the branch has written in the dialog since.
 */
export interface AlertSettings {
  renotifyAfterMinutes: number;
  escalateAfterMinutes: number;
  /**
   * The approved template used when an operator's own 24-hour window is closed (free text would be
   * refused). Body parameters, in order: the customer (name and phone), the link to the dialog.
   */
  template?: { name: string; language: string };
}

/** `name:language`, as ALERT_TEMPLATE and the settings API write it. */
export function parseTemplateRef(s: string): { name: string; language: string } | undefined {
  const m = /^([a-z0-9_]{1,512}):([A-Za-z]{2,3}(?:_[A-Za-z0-9]{2,4})?)$/.exec(s.trim());
  return m ? { name: m[1]!, language: m[2]! } : undefined;
}

export const alertSettingsPatch = z
  .strictObject({
    renotifyAfterMinutes: z.number().positive().max(7 * 24 * 60).optional(),
    escalateAfterMinutes: z.number().positive().max(7 * 24 * 60).optional(),
    template: z
      .string()
      .refine((s) => parseTemplateRef(s) !== undefined, "must be name:language, e.g. operator_alert:ru")
      .nullable()
      .optional(),
  });

type Stored = { renotifyAfterMinutes?: number; escalateAfterMinutes?: number; template?: { name: string; language: string } | null };

export async function loadAlertSettings(tx: Tx, defaults: AlertSettings): Promise<AlertSettings> {
  const stored = ((await tx.get("settings", ALERT_SETTINGS_ID))?.value ?? {}) as Stored;
  const template = stored.template === null ? undefined : (stored.template ?? defaults.template);
  return {
    renotifyAfterMinutes: stored.renotifyAfterMinutes ?? defaults.renotifyAfterMinutes,
    escalateAfterMinutes: stored.escalateAfterMinutes ?? defaults.escalateAfterMinutes,
    ...(template ? { template } : {}),
  };
}

/** Applies a validated patch; the escalation must come after the reminder. Returns the new settings. */
export async function saveAlertSettings(tx: Tx, defaults: AlertSettings, patch: z.infer<typeof alertSettingsPatch>): Promise<AlertSettings> {
  const stored = ((await tx.get("settings", ALERT_SETTINGS_ID))?.value ?? {}) as Stored;
  const next: Stored = {
    ...stored,
    ...(patch.renotifyAfterMinutes !== undefined ? { renotifyAfterMinutes: patch.renotifyAfterMinutes } : {}),
    ...(patch.escalateAfterMinutes !== undefined ? { escalateAfterMinutes: patch.escalateAfterMinutes } : {}),
    ...(patch.template !== undefined ? { template: patch.template === null ? null : parseTemplateRef(patch.template)! } : {}),
  };
  await tx.put("settings", { id: ALERT_SETTINGS_ID, value: next });
  return loadAlertSettings(tx, defaults);
}
