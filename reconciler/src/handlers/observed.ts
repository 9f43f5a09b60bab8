/** One Lambda invocation's error log and metric flush, the same for every function dbusers deploys. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** What an invocation is logged and counted with. */
export interface Observation {
  logger: Logger;
  metrics: Metrics;
  /** Fields every failure line carries (the event id, the flow). */
  context?: Record<string, unknown>;
  /** Counted once when the invocation throws. */
  failedMetric?: string;
}

/**
 * Run an invocation: a thrown error is logged by name and message (cut to 2,000 characters, never
 * a stack) and rethrown; the stored metrics are flushed whatever happened.
 */
export async function observed<T>(o: Observation, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    o.logger.error('invocation failed', {
      ...o.context,
      error: (error as Error).name,
      detail: (error as Error).message.slice(0, 2000),
    });
    if (o.failedMetric) o.metrics.addMetric(o.failedMetric, MetricUnit.Count, 1);
    throw error;
  } finally {
    o.metrics.publishStoredMetrics();
  }
}
