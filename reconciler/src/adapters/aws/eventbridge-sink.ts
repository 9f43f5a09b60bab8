/** EventBridge behind EventSink: one PutEvents entry per event, source `dbusers`, on the configured bus. */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventSink } from '../../ports/index.js';
import { RETRY_CONFIG } from './clients.js';

/** EventBridge takes at most 256 KB an entry: past it, plans shrink to their counts. */
const MAX_DETAIL = 250_000;

/** Raised when EventBridge does not take an event. */
export class EventPublishError extends Error {
  override name = 'EventPublishError';
}

export class EventBridgeSink implements EventSink {
  private readonly client: EventBridgeClient;

  constructor(
    private readonly busName: string,
    client?: EventBridgeClient,
  ) {
    this.client = client ?? new EventBridgeClient(RETRY_CONFIG);
  }

  async publish(event: { type: string; detail: Record<string, unknown> }): Promise<void> {
    const out = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'dbusers',
            DetailType: event.type,
            Detail: fit(event.detail),
            EventBusName: this.busName,
          },
        ],
      }),
    );
    if (out.FailedEntryCount) {
      const entry = out.Entries?.[0];
      throw new EventPublishError(
        `publish ${event.type} on ${this.busName}: ${entry?.ErrorCode ?? 'failed'}: ${entry?.ErrorMessage ?? ''}`,
      );
    }
  }
}

/** The detail as JSON, within EventBridge's size: large plan lists become per-cluster counts. */
function fit(detail: Record<string, unknown>): string {
  const full = JSON.stringify(detail);
  if (full.length <= MAX_DETAIL) return full;
  const counts = (plans: unknown) =>
    (plans as { alias: string; cluster: string; actions: unknown[]; skipped: unknown[] }[]).map((p) => ({
      cluster: `${p.alias}/${p.cluster}`,
      actions: p.actions.length,
      skipped: p.skipped.length,
    }));
  const slim: Record<string, unknown> = { ...detail, truncated: true };
  if (Array.isArray(detail.plans)) slim.plans = counts(detail.plans);
  if (Array.isArray(detail.results)) {
    slim.results = (detail.results as { cluster: string; ok: boolean; results: unknown[] }[]).map((r) => ({
      cluster: r.cluster,
      ok: r.ok,
      actions: r.results.length,
    }));
  }
  return JSON.stringify(slim);
}
