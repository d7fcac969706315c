import { loadBalance, type LoadBalanceOptions } from 'express-load-balance';

const targets = ['http://127.0.0.1:1'];

function build(options: Record<string, unknown>): () => void {
  return () => void loadBalance({ targets, ...options } as unknown as LoadBalanceOptions);
}

describe('strategy, hashKey, sticky and ewmaWindow options', () => {
  it.each(['round-robin', 'random', 'least-connections', 'power-of-two', 'consistent-hash', 'peak-ewma'])(
    'accepts strategy %s',
    (strategy) => {
      expect(build({ strategy })).not.toThrow();
    },
  );

  it('names every built-in strategy when given an unknown one', () => {
    expect(build({ strategy: 'least-conn' })).toThrow(
      /option "strategy" must be one of round-robin, random, least-connections, power-of-two, consistent-hash, peak-ewma/,
    );
  });

  it.each([
    [{ strategy: 'consistent-hash', hashKey: 'x-user-id' }, /option "hashKey" must be a function/],
    [{ strategy: 'round-robin', hashKey: (): string => 'k' }, /option "hashKey" only applies to strategy "consistent-hash"/],
    [{ hashKey: (): string => 'k' }, /option "hashKey" only applies to strategy "consistent-hash"/],
    [{ sticky: true }, /option "sticky" must be an object/],
    [{ sticky: null }, /option "sticky" must be an object/],
    [{ sticky: { cookie: null } }, /option "sticky.cookie" must be a cookie name/],
    [{ strategy: 'consistent-hash', hashKey: null }, /option "hashKey" must be a function/],
    [{ sticky: { cookie: 'bad name' } }, /option "sticky.cookie" must be a cookie name/],
    [{ sticky: { cookie: 'a;b' } }, /option "sticky.cookie"/],
    [{ sticky: { cookie: '' } }, /option "sticky.cookie"/],
    [{ sticky: { name: 'lb' } }, /option "sticky.name" is not a sticky option/],
    [{ sticky: { secret: 42 } }, /option "sticky.secret" must be a string/],
    [{ ewmaWindow: 0 }, /option "ewmaWindow" must be a positive, finite number, got 0/],
    [{ ewmaWindow: -5 }, /option "ewmaWindow"/],
    [{ ewmaWindow: Number.POSITIVE_INFINITY }, /option "ewmaWindow"/],
    [{ ewmaWindow: '10000' }, /option "ewmaWindow"/],
  ])('refuses %j with a TypeError naming the option', (options, message) => {
    expect(build(options)).toThrow(TypeError);
    expect(build(options)).toThrow(message);
  });

  it('refuses a short sticky secret without echoing it', () => {
    expect(build({ sticky: { secret: 'hunter2' } })).toThrow(/option "sticky.secret" must be at least 16 characters, got 7$/);
  });

  it('accepts sticky with defaults, a hashKey with consistent-hash, and an ewmaWindow', () => {
    expect(build({ sticky: {} })).not.toThrow();
    expect(build({ sticky: { cookie: 'srv', secret: 'sixteen chars ok' } })).not.toThrow();
    expect(build({ strategy: 'consistent-hash', hashKey: () => undefined })).not.toThrow();
    expect(build({ strategy: 'peak-ewma', ewmaWindow: 2_500 })).not.toThrow();
  });
});
