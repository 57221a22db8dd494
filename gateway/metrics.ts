// Counters and gauges in the Prometheus text exposition format, without a client
// library: the gateway has a handful of series and no histograms.
export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly gauges = new Map<string, { help: string; read: () => number }>();

  counter(name: string, help: string): (labels?: Record<string, string>, by?: number) => void {
    const c = { help, values: new Map<string, number>() };
    this.counters.set(name, c);
    return (labels = {}, by = 1) => {
      const key = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
        .join(',');
      c.values.set(key, (c.values.get(key) ?? 0) + by);
    };
  }

  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  value(name: string, labels: Record<string, string> = {}): number {
    const key = Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    return this.counters.get(name)?.values.get(key) ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      if (c.values.size === 0) out.push(`${name} 0`);
      for (const [k, v] of c.values) out.push(k ? `${name}{${k}} ${v}` : `${name} ${v}`);
    }
    for (const [name, g] of this.gauges) {
      let v: number;
      try {
        v = g.read();
      } catch {
        v = NaN;
      }
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${v}`);
    }
    return out.join('\n') + '\n';
  }
}

export function gatewayMetrics() {
  const m = new Metrics();
  return {
    registry: m,
    labelled: m.counter('sealcode_gateway_messages_total', 'Messages labelled, by verdict (certified, partial, uncertified, tampered)'),
    tooComplex: m.counter('sealcode_gateway_too_complex_total', 'Messages not fully examined because a limit was reached, by limit (parts, depth, size, header)'),
    foreignKeywords: m.counter('sealcode_gateway_foreign_keywords_removed_total', '$Seal* keywords found on a message that the gateway had not set, removed before labelling'),
    keywordsRestored: m.counter('sealcode_gateway_keywords_restored_total', 'Messages whose $Seal* keywords someone else changed after labelling; the verdict was restored'),
    plain: m.counter('sealcode_gateway_plain_messages_total', 'Messages without a sealcode attachment, left untouched'),
    errors: m.counter('sealcode_gateway_message_errors_total', 'Messages that could not be processed (logged)'),
    reconnects: m.counter('sealcode_gateway_imap_reconnects_total', 'IMAP reconnections after a dropped connection'),
    smtpAccepted: m.counter('sealcode_gateway_smtp_accepted_total', 'Messages accepted on submission and queued'),
    smtpSealed: m.counter('sealcode_gateway_smtp_sealed_attachments_total', 'Attachments sealed on submission'),
    smtpDelivered: m.counter('sealcode_gateway_smtp_delivered_total', 'Messages relayed upstream'),
    smtpDeferred: m.counter('sealcode_gateway_smtp_deferred_total', 'Relay attempts that failed and will be retried'),
    smtpFailed: m.counter('sealcode_gateway_smtp_failed_total', 'Messages given up on'),
    smtpRefused: m.counter('sealcode_gateway_smtp_refused_total', 'Submissions refused with a 5xx, by reason (size, content, unreadable, crash)'),
    smtpAuthFailures: m.counter('sealcode_gateway_smtp_auth_failures_total', 'Failed AUTH attempts, by result (wrong, locked)'),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
