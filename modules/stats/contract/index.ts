/**
 * The statistics domain's public contract (minifb). It owns no data other domains read: it adds
 * up the request aggregates every process reports on the platform's TELEMETRY stream (durable
 * consumer `stats`), and asks the owners for their totals (account.totals, feed.totals).
 */

/** The durable consumer of TELEMETRY that stores request statistics. */
export const STATS_CONSUMER = 'stats';
