import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Prometheus metrics, one registry per app instance (tests build several apps in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    webhooksReceived: new Counter({
      name: "branchline_webhooks_received_total",
      help: "Meta webhook POSTs by outcome",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: "branchline_webhook_ack_seconds",
      help: "Time from receiving a Meta webhook to acknowledging it (after the durable write)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    inboundMessages: new Counter({
      name: "branchline_inbound_messages_total",
      help: "Inbound WhatsApp messages processed, by routing rule",
      labelNames: ["rule"] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "branchline_queue_depth",
      help: "Jobs waiting or running, per queue",
      labelNames: ["queue"] as const,
      registers: [registry],
    }),
    deadLetters: new Gauge({
      name: "branchline_dead_letters",
      help: "Jobs that exhausted their retries, per queue",
      labelNames: ["queue"] as const,
      registers: [registry],
    }),
    sends: new Counter({
      name: "branchline_outbound_sends_total",
      help: "Graph send attempts by priority class and outcome",
      labelNames: ["priority", "outcome"] as const,
      registers: [registry],
    }),
    sendWait: new Histogram({
      name: "branchline_send_queue_wait_seconds",
      help: "Time from accepting an outbound message to its Graph call, by priority class",
      labelNames: ["priority"] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    senderPaused: new Gauge({
      name: "branchline_sender_paused",
      help: "1 while sending is paused by an account-wide alarm, labelled with the alarm",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: "branchline_connector_deliveries_total",
      help: "Connector delivery attempts by connector and outcome",
      labelNames: ["connector", "outcome"] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
