import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricName, RequestMetrics } from '../http/metrics';

/** The namespace and dimensions infra/alarms.yml alarms on: change them together. */
export const METRICS_NAMESPACE = 'cloudlite';
export const METRICS_SERVICE = 'cloudlite';

/**
 * RequestMetrics as CloudWatch embedded metric format through Powertools: one JSON line on
 * stdout per flush, which CloudWatch Logs turns into metrics with the dimensions `service` and
 * `stage`. A request that counted nothing writes nothing (Powertools would warn on an empty flush).
 */
export class PowertoolsMetrics implements RequestMetrics {
  private readonly metrics: Metrics;
  private counted = false;

  constructor(stage: string) {
    this.metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE, defaultDimensions: { stage } });
  }

  count(name: MetricName): void {
    this.metrics.addMetric(name, MetricUnit.Count, 1);
    this.counted = true;
  }

  flush(): void {
    if (!this.counted) return;
    this.counted = false;
    this.metrics.publishStoredMetrics();
  }
}
