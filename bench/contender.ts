/** A balancer (or none) under test, once started. */
export interface Running {
  /** Where the load goes: the balancer, or the upstreams themselves. */
  readonly urls: readonly string[];
  /** The processes whose CPU and memory are the balancer's cost; none for direct. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** Something the load can be sent through. */
export interface Contender {
  readonly id: string;
  readonly label: string;
  start(upstreams: readonly string[]): Promise<Running>;
}
