/** Plain rotation over `items`, for the proxies that take a per-request target function. */
export function rotation<T>(items: readonly T[]): () => T {
  let next = 0;
  return () => {
    const item = items[next]!;
    next = (next + 1) % items.length;
    return item;
  };
}
