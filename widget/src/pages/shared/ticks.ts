/** WhatsApp-style ticks for an outgoing message's status (the colour of "read" is the page's). */
export function statusTick(status: string | undefined): string {
  switch (status) {
    case "queued":
    case "accepted":
      return "⏱";
    case "sent":
      return "✓";
    case "delivered":
    case "read":
      return "✓✓";
    case "failed":
      return "⚠";
    default:
      return "";
  }
}
