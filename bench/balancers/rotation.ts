/** Plain rotation over `targets`, for the proxies that take a per-request target function. */
export function rotation(targets: readonly string[]): () => string {
  let next = 0;
  return () => {
    const target = targets[next]!;
    next = (next + 1) % targets.length;
    return target;
  };
}
