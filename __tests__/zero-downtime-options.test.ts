import { loadBalance } from 'express-load-balance';

const url = 'http://127.0.0.1:1';

describe('priority, queue, slowStart and retryAfter are checked at construction', () => {
  it.each([
    ['targets[0].priority', { targets: [{ url, priority: -1 }] }],
    ['targets[0].priority', { targets: [{ url, priority: 1.5 }] }],
    ['targets[0].priority', { targets: [{ url, priority: '1' }] }],
    ['targets[0].backup', { targets: [{ url, backup: 'yes' }] }],
    ['targets[0].backup', { targets: [{ url, backup: true, priority: 2 }] }],
    ['targets[0].backup', { targets: [{ url, backup: false, priority: 0 }] }],
    ['queue', { targets: [url], queue: 10 }],
    ['queue.size', { targets: [url], queue: { timeout: 1_000 } }],
    ['queue.timeout', { targets: [url], queue: { size: 10 } }],
    ['queue.size', { targets: [url], queue: { size: 0, timeout: 1_000 } }],
    ['queue.size', { targets: [url], queue: { size: 2.5, timeout: 1_000 } }],
    ['queue.timeout', { targets: [url], queue: { size: 1, timeout: 0 } }],
    ['queue.wait', { targets: [url], queue: { size: 1, timeout: 1, wait: 1 } }],
    ['slowStart', { targets: [url], slowStart: -1 }],
    ['slowStart', { targets: [url], slowStart: '30s' }],
    ['slowStart', { targets: [url], slowStart: 2 ** 31 }],
    ['retryAfter', { targets: [url], retryAfter: true }],
    ['retryAfter.max', { targets: [url], retryAfter: { max: 0 } }],
    ['retryAfter.min', { targets: [url], retryAfter: { min: 1 } }],
  ])('%s: %j', (name, options) => {
    expect(() => loadBalance(options as never)).toThrow(TypeError);
    expect(() => loadBalance(options as never)).toThrow(`"${name}`);
  });

  it('names both fields when backup and priority are given together', () => {
    expect(() => loadBalance({ targets: [{ url, backup: true, priority: 1 }] })).toThrow(
      'option "targets[0].backup" cannot be given with priority (backup: true is priority 1), got true',
    );
  });

  it('takes backup: true as priority 1, and the defaults as level 0', () => {
    const lb = loadBalance({
      targets: [
        url,
        { url: 'http://127.0.0.1:2', backup: true },
        { url: 'http://127.0.0.1:3', priority: 4 },
        { url: 'http://127.0.0.1:4', backup: false },
      ],
    });
    expect(lb.targets().map((t) => t.priority)).toEqual([0, 1, 4, 0]);
    void lb.close();
  });

  it('checks addTarget() the same way', () => {
    const lb = loadBalance({ targets: [url] });
    expect(() => lb.addTarget({ url: 'http://127.0.0.1:2', priority: -2 })).toThrow('addTarget() argument "target.priority"');
    lb.addTarget({ url: 'http://127.0.0.1:2', backup: true });
    expect(lb.targets()[1]!.priority).toBe(1);
    void lb.close();
  });
});
