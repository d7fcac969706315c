import type { Request } from 'express';
import type { Clock, Random } from '../../clock';
import type { TargetState } from '../target';
import type { Target } from '../target-views';

/**
 * How an attempt ended, as reported to {@link Strategy.onEnd}.
 * @public
 */
export interface Outcome {
  /** False when the upstream could not be reached, reset, or timed out. */
  readonly ok: boolean;
  /** The upstream's status code, when it answered. */
  readonly status?: number;
  /** Milliseconds from sending the request to the end of the response (or the failure). */
  readonly durationMs: number;
}

/**
 * A balancing strategy: picks the target for each request. The built-in strategies
 * implement this same interface.
 *
 * `pick` receives the targets that may take a request (never empty) and must
 * return one of them, or `undefined` to refuse the request with a 503.
 *
 * @example
 * const firstHealthy: Strategy = { pick: (targets) => targets[0] };
 * @public
 */
export interface Strategy<T extends Target = Target> {
  /** The target for `req`: one of `targets` (never empty), or `undefined` for a 503. */
  pick(targets: readonly T[], req: Request): T | undefined;
  /** Called when a request is sent to `target`. */
  onStart?(target: T, req: Request): void;
  /** Called exactly once per `onStart`, when that request has ended, however it ended. */
  onEnd?(target: T, outcome: Outcome): void;
}

/**
 * The short form of a custom strategy: `(targets, req) => target`.
 * @public
 */
export type StrategyFunction = (targets: readonly Target[], req: Request) => Target | undefined;

/**
 * Names of the built-in strategies.
 * @public
 */
export type StrategyName = 'round-robin' | 'random' | 'least-connections' | 'power-of-two' | 'consistent-hash' | 'peak-ewma';

/**
 * The `hashKey` option of the `'consistent-hash'` strategy: the key a request is
 * hashed by. `undefined` (or an empty string) means "no key": the request is
 * balanced by round robin instead.
 *
 * @example
 * const byUser: HashKey = (req) => req.get('x-user-id');
 * @public
 */
export type HashKey = (req: Request) => string | undefined;

/** What a strategy may use besides the targets: injected so tests can be deterministic. */
export interface StrategyContext {
  /** The balancer's random source. */
  readonly random: Random;
  /** The balancer's clock; strategies only read it. */
  readonly clock: Pick<Clock, 'now'>;
  /** The consistent-hash key of a request (validated `hashKey` option, or the client IP). */
  readonly hashKey: HashKey;
}

/** Builds one strategy instance per balancer, so no two balancers share state. */
export type StrategyFactory = (context: StrategyContext) => Strategy<TargetState>;
