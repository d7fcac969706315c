import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';

/**
 * The span attributes the balancer sets on each attempt's client span. Named as
 * OpenTelemetry's attribute naming rules ask of names outside its semantic conventions:
 * lower case, dot-separated, under a namespace of their own (here the package's name).
 */
export const SPAN_ATTRIBUTES = Object.freeze({
  /** The target's URL, as given in `targets`. */
  target: 'express_load_balance.target',
  /** 1 for the first request sent for a client request, 2 for the next (a retry, or a resend on a fresh connection), ... */
  attempt: 'express_load_balance.attempt',
  /** The `strategy` option's name, or `custom`. */
  strategy: 'express_load_balance.strategy',
});

/** The part of an OpenTelemetry `Span` used here, written out so that no type comes from the optional peer. */
interface SpanLike {
  isRecording(): boolean;
  setAttributes(attributes: Record<string, string | number>): unknown;
}

/** The part of `@opentelemetry/api` used here. */
interface TraceApi {
  readonly trace: { getActiveSpan(): SpanLike | undefined };
}

/** Node's Agent with `addRequest`, which the ClientRequest constructor calls and @types/node leaves out. */
type PoolingAgent = http.Agent & { addRequest(request: http.ClientRequest, options: unknown): void };

/** What an attempt tells about itself, for its span. */
export interface TracedAttempt {
  readonly target: { readonly url: string };
  readonly attempt: number;
}

/** The trace context headers of the W3C Trace Context recommendation (§3.2, §3.3). */
const TRACE_HEADERS = ['traceparent', 'tracestate'] as const;

/**
 * The balancer's side of OpenTelemetry tracing, built only when `@opentelemetry/api` (an
 * optional peer dependency) can be loaded. The spans themselves are OpenTelemetry's: its
 * HTTP instrumentation makes a client span for each `http.request` the transport calls,
 * in the context that is active there (the server span of the client's request), and
 * injects that span's `traceparent` into the request's headers.
 *
 * The client span exists only inside `http.request`, and the instrumentation hands it to
 * nobody. Node calls the agent's `addRequest` synchronously from the `ClientRequest`
 * constructor, inside that call, so a stand-in agent whose `addRequest` reads the active
 * span there finds the attempt's span, then lets the real agent do the pooling.
 */
export class AttemptTracing {
  constructor(
    private readonly api: TraceApi,
    private readonly strategy: string,
  ) {}

  /**
   * The agent to give `http.request` for one attempt. With no active span (no SDK
   * registered, or a request outside any trace) it is `agent` itself, and the client's
   * trace context headers go upstream untouched, as any header does. With one, the
   * client's `traceparent` and `tracestate` are dropped from `headers`, so what goes
   * upstream is the trace context the instrumentation injects for the attempt's span
   * alone (the server span has already continued the client's), and the agent is a
   * stand-in that labels that span.
   */
  agentFor(
    attempt: TracedAttempt,
    agent: http.Agent | false | undefined,
    headers: http.OutgoingHttpHeaders,
    secure: boolean,
  ): http.Agent | false | undefined {
    const { trace } = this.api;
    const parent = trace.getActiveSpan();
    if (parent === undefined) return agent;
    for (const name of TRACE_HEADERS) delete headers[name];
    // What Node would use for the same option: a one-off agent for `false`, the global one for none.
    const Agent = secure ? https.Agent : http.Agent;
    const real = (agent === false ? new Agent() : (agent ?? (secure ? https.globalAgent : http.globalAgent))) as PoolingAgent;
    // Everything but addRequest is read through to the real agent, whose pool it stays.
    const stand = Object.create(real) as PoolingAgent;
    stand.addRequest = (request, options) => {
      const span = trace.getActiveSpan();
      // The parent still active means no instrumentation made a span for this request.
      if (span !== undefined && span !== parent && span.isRecording()) {
        span.setAttributes({
          [SPAN_ATTRIBUTES.target]: attempt.target.url,
          [SPAN_ATTRIBUTES.attempt]: attempt.attempt,
          [SPAN_ATTRIBUTES.strategy]: this.strategy,
        });
      }
      real.addRequest(request, options);
    };
    return stand;
  }
}

/**
 * Loads `@opentelemetry/api` if the app has it, once per balancer. `createRequire` from
 * this file's own path finds it as an `import` from here would; `__filename` is Node's
 * in the CommonJS build and tsup's shim in the ESM one (`shims` in tsup.config.ts). The
 * CommonJS copy of the API shares its state with an app's ESM copy: the API keeps its
 * registrations on a global symbol, so that several copies in one process agree.
 */
export function loadTracing(strategy: string): AttemptTracing | undefined {
  let api: TraceApi;
  try {
    api = createRequire(__filename)('@opentelemetry/api') as TraceApi;
  } catch {
    return undefined;
  }
  return typeof api?.trace?.getActiveSpan === 'function' ? new AttemptTracing(api, strategy) : undefined;
}
