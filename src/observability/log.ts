import createDebug from 'debug';

/**
 * Diagnostic logging through `debug`, as Express and its router do: nothing is printed
 * unless the `DEBUG` environment variable names a namespace, e.g.
 * `DEBUG=express-load-balance:* node app.js`. One namespace per concern:
 *
 * - `express-load-balance:forward`   picks, retries, failed attempts
 * - `express-load-balance:health`    health-check state changes, outlier ejections
 * - `express-load-balance:pool`      targets added, removed, drained
 * - `express-load-balance:discovery` DNS answers, target set changes, failed lookups
 *
 * On the per-request path, callers test `log.enabled` before calling, so a disabled
 * logger costs one property read: no argument array, no formatting.
 */
export const log = {
  forward: createDebug('express-load-balance:forward'),
  health: createDebug('express-load-balance:health'),
  pool: createDebug('express-load-balance:pool'),
  discovery: createDebug('express-load-balance:discovery'),
} as const;
