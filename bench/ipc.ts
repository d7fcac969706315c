// Messages between the bench and its child processes (over the fork() IPC channel).

/** A server child tells the bench where it listens. */
export interface Ready {
  readonly type: 'ready';
  readonly port: number;
}

/** The bench asks a child to close its servers and exit (so `--cpu-prof` can write its file). */
export interface Stop {
  readonly type: 'stop';
}

/** The bench asks the load child to run one scenario against `urls`. */
export interface RunLoad {
  readonly type: 'run';
  readonly scenario: string;
  readonly urls: readonly string[];
  readonly duration: number;
  /** Requests per second over all connections; undefined for as fast as the contender answers. */
  readonly rate: number | undefined;
}

/** The load child has started autocannon: the measured window opens. */
export interface LoadStarted {
  readonly type: 'started';
}

/** What the load child reports of one autocannon run. */
export interface LoadResult {
  readonly type: 'result';
  readonly connections: number;
  /** Seconds autocannon ran. */
  readonly duration: number;
  /** Responses received, whatever their status. */
  readonly responses: number;
  readonly non2xx: number;
  /** Socket errors, timeouts included. */
  readonly errors: number;
  readonly timeouts: number;
  readonly latencyMean: number;
  readonly latencyP50: number;
  readonly latencyP99: number;
}

export interface LoadFailed {
  readonly type: 'failed';
  readonly message: string;
}

export type FromChild = Ready | LoadStarted | LoadResult | LoadFailed;
export type ToChild = Stop | RunLoad;
