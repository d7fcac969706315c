import { loadBalance } from 'express-load-balance';

const targets = ['http://127.0.0.1:1'];

describe('resilience options are checked at construction', () => {
  it.each([
    ['connectTimeout', { connectTimeout: 0 }],
    ['connectTimeout', { connectTimeout: 2 ** 31 }],
    ['retries', { retries: -1 }],
    ['retries', { retries: 1.5 }],
    ['retries', { retries: '2' }],
    ['retryBudget', { retryBudget: 1.5 }],
    ['retryBudget', { retryBudget: -0.1 }],
    ['retryBudget', { retryBudget: 'lots' }],
    ['retryBudget.ratio', { retryBudget: { minPerSecond: 1 } }],
    ['retryBudget.minPerSecond', { retryBudget: { ratio: 0.1, minPerSecond: -1 } }],
    ['retryBudget.burst', { retryBudget: { ratio: 0.1, burst: 1 } }],
    ['retryBufferSize', { retryBufferSize: -1 }],
    ['retryBufferSize', { retryBufferSize: Infinity }],
    ['retryOn', { retryOn: 503 }],
    ['retryOn[1]', { retryOn: [502, 'x'] }],
    ['retryOn[0]', { retryOn: [99] }],
    ['healthCheck', { healthCheck: 'yes' }],
    ['healthCheck.path', { healthCheck: { path: 'health' } }],
    ['healthCheck.path', { healthCheck: { path: '//evil/health' } }],
    ['healthCheck.interval', { healthCheck: { interval: 0 } }],
    ['healthCheck.timeout', { healthCheck: { timeout: -5 } }],
    ['healthCheck.healthyThreshold', { healthCheck: { healthyThreshold: 0 } }],
    ['healthCheck.unhealthyThreshold', { healthCheck: { unhealthyThreshold: 1.5 } }],
    ['healthCheck.expectStatus', { healthCheck: { expectStatus: [200] } }],
    ['healthCheck.expectStatus', { healthCheck: { expectStatus: [399, 200] } }],
    ['healthCheck.expectStatus[1]', { healthCheck: { expectStatus: [200, 700] } }],
    ['healthCheck.intervall', { healthCheck: { intervall: 1000 } }],
    ['outlierDetection', { outlierDetection: true }],
    ['outlierDetection.consecutiveFailures', { outlierDetection: { consecutiveFailures: 0 } }],
    ['outlierDetection.baseEjectionTime', { outlierDetection: { baseEjectionTime: 0 } }],
    ['outlierDetection.maxEjectionPercent', { outlierDetection: { maxEjectionPercent: 101 } }],
    ['outlierDetection.maxEjectionTime', { outlierDetection: { maxEjectionTime: NaN } }],
    ['maxInFlightPerTarget', { maxInFlightPerTarget: 0 }],
    ['maxInFlightPerTarget', { maxInFlightPerTarget: 2.5 }],
  ])('names %s when it is wrong', (name, options) => {
    expect(() => loadBalance({ targets, ...(options as object) })).toThrow(TypeError);
    expect(() => loadBalance({ targets, ...(options as object) })).toThrow(`"${name}"`);
  });

  it('accepts every documented form', async () => {
    const lbs = [
      loadBalance({ targets, healthCheck: true }),
      loadBalance({
        targets,
        connectTimeout: 1_000,
        retries: 0,
        retryBudget: { ratio: 0.5, minPerSecond: 0 },
        retryBufferSize: 0,
        retryOn: [502, 503, 504],
        healthCheck: {
          path: '/ready',
          interval: 1_000,
          timeout: 500,
          healthyThreshold: 1,
          unhealthyThreshold: 3,
          expectStatus: [200, 204],
        },
        outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 10_000, maxEjectionTime: 60_000, maxEjectionPercent: 100 },
        maxInFlightPerTarget: Infinity,
      }),
      loadBalance({ targets, outlierDetection: false, retryBudget: 0 }),
    ];
    await Promise.all(lbs.map((lb) => lb.close()));
  });
});
