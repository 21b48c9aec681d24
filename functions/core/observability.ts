// One logger and one metrics buffer per process, built at cold start: structured JSON logs and
// CloudWatch metrics in Embedded Metric Format.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'stimulated-peering';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ serviceName, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'StimulatedPeering' });
export { MetricUnit };
