import { defaultRoutingSettings, type RoutingSettings } from "../domain/routing.js";
import type { Tx } from "../store/store.port.js";

export const ROUTING_SETTINGS_ID = "routing";

/** Routing settings as stored by the console, over the defaults and the start-up configuration. */
export async function loadRoutingSettings(tx: Tx, base: Partial<RoutingSettings>): Promise<RoutingSettings> {
  const stored = (await tx.get("settings", ROUTING_SETTINGS_ID))?.value as Partial<RoutingSettings> | undefined;
  return { ...defaultRoutingSettings(), ...base, ...stored };
}
