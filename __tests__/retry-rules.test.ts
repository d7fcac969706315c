import { RetryBudget } from '../src/resilience/retry-budget';
import { mayRetry, type FailurePhase } from '../src/resilience/retry-rules';

describe('which failures may be retried', () => {
  it.each`
    method       | phase                | retried
    ${'POST'}    | ${'connect'}         | ${true}
    ${'POST'}    | ${'connect-timeout'} | ${true}
    ${'PATCH'}   | ${'connect-timeout'} | ${true}
    ${'PATCH'}   | ${'reused-socket'}   | ${false}
    ${'POST'}    | ${'reused-socket'}   | ${false}
    ${'GET'}     | ${'reused-socket'}   | ${true}
    ${'PUT'}     | ${'reused-socket'}   | ${true}
    ${'GET'}     | ${'connect'}         | ${true}
    ${'GET'}     | ${'sent'}            | ${true}
    ${'HEAD'}    | ${'timeout'}         | ${true}
    ${'OPTIONS'} | ${'sent'}            | ${true}
    ${'PUT'}     | ${'sent'}            | ${true}
    ${'DELETE'}  | ${'timeout'}         | ${true}
    ${'TRACE'}   | ${'sent'}            | ${true}
    ${'POST'}    | ${'sent'}            | ${false}
    ${'POST'}    | ${'timeout'}         | ${false}
    ${'PATCH'}   | ${'sent'}            | ${false}
    ${'PATCH'}   | ${'timeout'}         | ${false}
  `(
    '$method after a failure in phase $phase: $retried',
    ({ method, phase, retried }: { method: string; phase: FailurePhase; retried: boolean }) => {
      expect(mayRetry(method, { phase })).toBe(retried);
    },
  );

  it.each`
    method    | retried
    ${'GET'}  | ${true}
    ${'PUT'}  | ${true}
    ${'POST'} | ${false}
  `('$method after a 503 that retryOn lists: $retried', ({ method, retried }: { method: string; retried: boolean }) => {
    expect(mayRetry(method, { phase: 'status', status: 503 })).toBe(retried);
  });
});

describe('the retry budget', () => {
  function budgetAt(ratio: number, minPerSecond: number) {
    const clock = { t: 0, now: () => clock.t };
    return { budget: new RetryBudget(ratio, minPerSecond, clock), clock };
  }

  it('allows retries up to ratio × requests when there is no floor', () => {
    const { budget } = budgetAt(0.2, 0);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    let granted = 0;
    for (let i = 0; i < 100; i++) if (budget.tryRetry()) granted++;
    expect(granted).toBe(20);
  });

  it('adds the floor: minPerSecond × the 10 s window', () => {
    const { budget } = budgetAt(0.2, 1);
    let granted = 0;
    for (let i = 0; i < 50; i++) if (budget.tryRetry()) granted++;
    expect(granted).toBe(10);
  });

  it('forgets requests and retries older than the window', () => {
    const { budget, clock } = budgetAt(0.5, 0);
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    clock.t = 10_500;
    expect(budget.tryRetry()).toBe(false);
    budget.recordRequest();
    budget.recordRequest();
    expect([budget.tryRetry(), budget.tryRetry()]).toEqual([true, false]);
  });

  it('keeps what happened within the window across bucket rotations', () => {
    const { budget, clock } = budgetAt(1, 0);
    budget.recordRequest();
    clock.t = 5_000;
    budget.recordRequest();
    clock.t = 9_999;
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([true, true, false]);
    clock.t = 10_001;
    // The first request's bucket has left the window; its retry allowance went with it.
    expect(budget.tryRetry()).toBe(false);
  });
});
