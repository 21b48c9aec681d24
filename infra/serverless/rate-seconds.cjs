'use strict';
// A serverless.yml variable source (`${file(./infra/serverless/rate-seconds.cjs):resyncPeriodSeconds}`):
// the resync schedule's interval in seconds, so the resync alarms evaluate one run per period.
const UNIT_SECONDS = { minute: 60, hour: 3600, day: 86400 };
// CloudWatch evaluates at most one day: three periods (the longest evaluation) must fit.
const LONGEST_PERIOD = 86400 / 3;

function rateSeconds(expression) {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (!match) throw new Error(`resyncRate must be rate(N minutes|hours|days), not ${JSON.stringify(expression)}: the resync alarms need its period`);
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2]];
  if (seconds > LONGEST_PERIOD) throw new Error(`resyncRate ${expression} is longer than the ${LONGEST_PERIOD / 3600} hours the resync alarms can watch`);
  return seconds;
}

module.exports = {
  rateSeconds,
  async resyncPeriodSeconds({ resolveVariable }) {
    return rateSeconds(await resolveVariable('param:resyncRate'));
  },
};
