// One logger and one metrics buffer per process, built at cold start: structured JSON logs and
// CloudWatch metrics in Embedded Metric Format.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'stimulated-peering';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ serviceName, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'StimulatedPeering' });
export { MetricUnit };

/**
 * A logger for one invocation, carrying `keys` on every line. Invocations never share one: where a
 * process serves several at once (osls offline, tests), appended keys would leak between them.
 */
export function invocationLogger(context: { functionName: string } | undefined, keys: Record<string, unknown> = {}): Logger {
  const log = logger.createChild({ persistentKeys: keys });
  if (context) log.addContext(context as Parameters<Logger['addContext']>[0]);
  return log;
}
