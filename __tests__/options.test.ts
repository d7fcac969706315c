import { loadBalance, type LoadBalanceMiddleware, type LoadBalanceOptions } from 'express-load-balance';

/** Calls loadBalance with anything, as JavaScript callers can. */
function build(options: unknown, strategy?: unknown): LoadBalanceMiddleware {
  return (loadBalance as (options: unknown, strategy?: unknown) => LoadBalanceMiddleware)(options, strategy);
}

/** Builds a balancer, reads its target URLs, and frees it. */
async function targetUrls(options: unknown, strategy?: unknown): Promise<string[]> {
  const lb = build(options, strategy);
  try {
    return lb.targets().map((t) => t.url);
  } finally {
    await lb.close();
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

const A = 'http://127.0.0.1:3001';
const B = 'http://127.0.0.1:3002';

describe('invalid options throw a TypeError naming the option', () => {
  // [what is wrong, options, the option the message must name]
  it.each<[string, unknown, string]>([
    ['no options at all', undefined, 'options'],
    ['null options', null, 'options'],
    ['a URL string instead of options', A, 'options'],
    ['no targets', {}, 'targets'],
    ['targets undefined', { targets: undefined }, 'targets'],
    ['an empty targets array', { targets: [] }, 'targets'],
    ['targets not an array', { targets: A }, 'targets'],
    ['targets null', { targets: null }, 'targets'],
    ['a relative target', { targets: ['/api'] }, 'targets[0]'],
    ['a target without a scheme', { targets: ['127.0.0.1:3000'] }, 'targets[0]'],
    ['a host:port target', { targets: ['localhost:3000'] }, 'targets[0]'],
    ['an ftp: target', { targets: ['ftp://127.0.0.1/'] }, 'targets[0]'],
    ['a file: target', { targets: ['file:///etc/passwd'] }, 'targets[0]'],
    ['a ws: target', { targets: ['ws://127.0.0.1:3000'] }, 'targets[0]'],
    ['a target with a query', { targets: ['http://h/?a=1'] }, 'targets[0]'],
    ['a target with an empty query', { targets: ['http://h/?'] }, 'targets[0]'],
    ['a target with a query after a base path', { targets: ['http://h/v1?a=1'] }, 'targets[0]'],
    ['a target with a fragment', { targets: ['http://h/#top'] }, 'targets[0]'],
    ['a target with an empty fragment', { targets: ['http://h/#'] }, 'targets[0]'],
    ['a target with credentials', { targets: ['http://u:p@h'] }, 'targets[0]'],
    ['a target with a user name', { targets: ['http://u@h'] }, 'targets[0]'],
    ['a target whose path starts with //', { targets: ['http://h//v1'] }, 'targets[0]'],
    ['a target on port 0', { targets: ['http://h:0'] }, 'targets[0]'],
    ['a number as target', { targets: [3000] }, 'targets[0]'],
    ['null as target', { targets: [A, null] }, 'targets[1]'],
    ['a duplicate target', { targets: [A, B, A] }, 'targets[2]'],
    ['a duplicate with the default port', { targets: ['http://h', 'http://h:80'] }, 'targets[1]'],
    ['a duplicate with the https default port', { targets: ['https://h:443', 'https://h'] }, 'targets[1]'],
    ['a duplicate with a trailing slash', { targets: ['http://h', 'http://h/'] }, 'targets[1]'],
    ['a duplicate base path with a trailing slash', { targets: ['http://h/v1', 'http://h/v1/'] }, 'targets[1]'],
    ['a duplicate in other letter case', { targets: ['HTTP://H:3000', 'http://h:3000'] }, 'targets[1]'],
    ['a duplicate given as an object', { targets: [A, { url: `${A}/` }] }, 'targets[1]'],
    ['a target object without url', { targets: [{ weight: 2 }] }, 'targets[0].url'],
    ['a target object with a relative url', { targets: [{ url: '/x' }] }, 'targets[0].url'],
    ['an unknown key in a target object', { targets: [{ url: A, wieght: 2 }] }, 'targets[0].wieght'],
    ['a zero weight', { targets: [{ url: A, weight: 0 }] }, 'targets[0].weight'],
    ['a negative weight', { targets: [{ url: A, weight: -1 }] }, 'targets[0].weight'],
    ['a NaN weight', { targets: [{ url: A, weight: NaN }] }, 'targets[0].weight'],
    ['an infinite weight', { targets: [{ url: A, weight: Infinity }] }, 'targets[0].weight'],
    ['a string weight', { targets: [{ url: A, weight: '2' }] }, 'targets[0].weight'],
    ['a null weight', { targets: [{ url: A, weight: null }] }, 'targets[0].weight'],
    ['an unknown strategy name', { targets: [A], strategy: 'round-robbin' }, 'strategy'],
    ['a strategy name in other case', { targets: [A], strategy: 'Random' }, 'strategy'],
    ['a strategy named after an Object.prototype member', { targets: [A], strategy: 'toString' }, 'strategy'],
    ['a number as strategy', { targets: [A], strategy: 1 }, 'strategy'],
    ['an object without pick as strategy', { targets: [A], strategy: {} }, 'strategy'],
    ['a null strategy', { targets: [A], strategy: null }, 'strategy'],
    ['a zero timeout', { targets: [A], timeout: 0 }, 'timeout'],
    ['a negative timeout', { targets: [A], timeout: -5 }, 'timeout'],
    ['a NaN timeout', { targets: [A], timeout: NaN }, 'timeout'],
    ['an infinite timeout', { targets: [A], timeout: Infinity }, 'timeout'],
    ['a string timeout', { targets: [A], timeout: '1000' }, 'timeout'],
    ['a null timeout', { targets: [A], timeout: null }, 'timeout'],
    ["a timeout beyond Node's timer limit", { targets: [A], timeout: 2 ** 31 }, 'timeout'],
    ['a zero keepAliveTimeout', { targets: [A], keepAliveTimeout: 0 }, 'keepAliveTimeout'],
    ['a negative keepAliveTimeout', { targets: [A], keepAliveTimeout: -1 }, 'keepAliveTimeout'],
    ['an infinite keepAliveTimeout', { targets: [A], keepAliveTimeout: Infinity }, 'keepAliveTimeout'],
    ['a string keepAliveTimeout', { targets: [A], keepAliveTimeout: '4000' }, 'keepAliveTimeout'],
    ["a keepAliveTimeout beyond Node's timer limit", { targets: [A], keepAliveTimeout: 1e10 }, 'keepAliveTimeout'],
    ['a string preserveHost', { targets: [A], preserveHost: 'yes' }, 'preserveHost'],
    ['a null preserveHost', { targets: [A], preserveHost: null }, 'preserveHost'],
    ['a misspelt option', { targets: [A], stratgy: 'random' }, 'stratgy'],
    ['an option of another library', { targets: [A], changeOrigin: true }, 'changeOrigin'],
    ['a __proto__ key from JSON', JSON.parse(`{"targets":["${A}"],"__proto__":{"timeout":1}}`), '__proto__'],
    ['a constructor key from JSON', JSON.parse(`{"targets":["${A}"],"constructor":{}}`), 'constructor'],
    ['a __proto__ key in a target from JSON', JSON.parse(`{"targets":[{"url":"${A}","__proto__":{"weight":9}}]}`), 'targets[0].__proto__'],
  ])('%s', (_what, options, option) => {
    expect(() => build(options)).toThrow(TypeError);
    expect(() => build(options)).toThrow(`"${option}"`);
  });

  it('throws when a strategy argument follows an options object', () => {
    expect(() => build({ targets: [A] }, 'random')).toThrow(TypeError);
    expect(() => build({ targets: [A] }, 'random')).toThrow(/strategy/);
  });

  it('throws on an unknown strategy name given to the shorthand', () => {
    expect(() => build([A], 'fastest')).toThrow('"strategy"');
  });
});

describe('valid options', () => {
  // [options, the normalised target URLs]
  it.each<[string, unknown, string[]]>([
    ['a bare origin', { targets: [A] }, [A]],
    ['the default port', { targets: ['http://h:80/', 'https://h:443'] }, ['http://h', 'https://h']],
    ['a base path with a trailing slash', { targets: ['http://h:3000/v1/'] }, ['http://h:3000/v1']],
    ['a nested base path', { targets: ['http://h/a/b//'] }, ['http://h/a/b']],
    ['letter case', { targets: ['HTTP://Example.COM:3000/V1'] }, ['http://example.com:3000/V1']],
    ['an IPv6 target', { targets: ['http://[::1]:3000'] }, ['http://[::1]:3000']],
    ['same host, other ports', { targets: [A, B] }, [A, B]],
    [
      'same host and port, other base paths',
      { targets: ['http://h/v1', 'http://h/v2', 'http://h'] },
      ['http://h/v1', 'http://h/v2', 'http://h'],
    ],
    ['target objects', { targets: [{ url: A, weight: 3 }, { url: B }] }, [A, B]],
    ['undefined for optional options', { targets: [A], strategy: undefined, timeout: undefined, preserveHost: undefined }, [A]],
    ['the largest timeouts Node can keep', { targets: [A], timeout: 2 ** 31 - 1, keepAliveTimeout: 2 ** 31 - 1 }, [A]],
    ['fractional weights and timeouts', { targets: [{ url: A, weight: 0.5 }], timeout: 0.5 }, [A]],
  ])('accepts %s', async (_what, options, urls) => {
    expect(await targetUrls(options)).toEqual(urls);
  });

  it.each<[string, unknown]>([
    ['no strategy', undefined],
    ['round-robin', 'round-robin'],
    ['random', 'random'],
    ['a function', (targets: readonly unknown[]) => targets[0]],
    ['an object with pick', { pick: (targets: readonly unknown[]) => targets[0] }],
  ])('accepts the shorthand loadBalance(targets, strategy) with %s', async (_what, strategy) => {
    expect(await targetUrls([A, B], strategy)).toEqual([A, B]);
  });

  it('keeps the weight of a target object', async () => {
    const lb = loadBalance({ targets: [{ url: A, weight: 3 }, B] });
    try {
      expect(lb.targets().map((t) => t.weight)).toEqual([3, 1]);
    } finally {
      await lb.close();
    }
  });

  it('never mutates the options it is given', async () => {
    const strategy = { pick: (targets: readonly unknown[]) => targets[0], onEnd: () => undefined };
    const options = {
      targets: [{ url: `${A}/v1/`, weight: 2 }, `${B}/`],
      strategy,
      timeout: 1_000,
      keepAliveTimeout: 500,
      preserveHost: true,
    };
    const before = structuredClone({ ...options, strategy: undefined });
    deepFreeze(options);

    // A frozen object throws on any write in strict mode, so a mutation cannot go unseen.
    expect(await targetUrls(options)).toEqual([`${A}/v1`, B]);
    expect({ ...options, strategy: undefined }).toEqual(before);
    expect(await targetUrls(deepFreeze([A, B]), 'random')).toEqual([A, B]);
  });

  it('ignores settings inherited through the prototype chain', async () => {
    const inherited = Object.create({ timeout: -1, preserveHost: 'yes', stratgy: 'x' }) as LoadBalanceOptions;
    (inherited as { targets: string[] }).targets = [A];

    expect(await targetUrls(inherited)).toEqual([A]);
  });

  it('ignores a polluted Object.prototype', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.preserveHost = 'yes';
    proto.weight = -1;
    try {
      expect(await targetUrls({ targets: [{ url: A }] })).toEqual([A]);
    } finally {
      delete proto.preserveHost;
      delete proto.weight;
    }
  });
});
