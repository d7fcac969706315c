import type { TargetState } from '../target';
import type { Target } from '../target-views';
import { fnv1a32, mix32 } from './hash';
import { roundRobin } from './round-robin';
import type { Strategy, StrategyContext } from './types';

/** 2^32, to turn a 32-bit hash into a number in (0, 1). */
const TWO_TO_32 = 4294967296;

/**
 * Consistent hashing by weighted rendezvous hashing (highest random weight, Thaler &
 * Ravishankar 1998; weights by Schindelhauer & Schomaker's logarithmic method): each
 * target scores `-weight / ln(u)`, where `u` in (0, 1) is a hash of the key and the
 * target's URL, and the highest score takes the key.
 *
 * Why this rather than a ketama ring (nginx, HAProxy, Envoy's ring_hash) or Maglev:
 * - no derived table: nothing to rebuild or keep in step when targets are added or
 *   removed live, and no copy of the target list in the strategy;
 * - exactly minimal disruption: adding a target moves only the keys it now wins
 *   (its share of the weight), removing one moves only its own keys; a ring with
 *   virtual nodes gets there only approximately;
 * - any positive weight, fractions included, with an exact expected share;
 * - depends only on the key and the URLs, so two balancers (or processes) with the
 *   same targets agree.
 * The price is O(targets) hashes per pick; a ring's binary search wins beyond a few
 * hundred targets, which an in-process Express balancer does not have.
 *
 * Requests without a key go to smooth weighted round robin.
 */
export function consistentHash({ hashKey }: StrategyContext): Strategy<TargetState> {
  const fallback = roundRobin();
  /** FNV-1a of each target's URL: its fixed identity here, computed once per target. */
  const urlHashes = new WeakMap<Target, number>();
  const urlHash = (target: Target): number => {
    let hash = urlHashes.get(target);
    if (hash === undefined) {
      hash = fnv1a32(target.url);
      urlHashes.set(target, hash);
    }
    return hash;
  };
  return {
    pick(targets, req) {
      const key = hashKey(req);
      if (typeof key !== 'string' || key === '') return fallback.pick(targets, req);
      const keyHash = fnv1a32(key);
      let best: TargetState | undefined;
      let bestScore = -1;
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]!;
        const u = (mix32(keyHash ^ urlHash(target)) + 0.5) / TWO_TO_32;
        const score = -target.weight / Math.log(u);
        if (score > bestScore) {
          best = target;
          bestScore = score;
        }
      }
      return best;
    },
  };
}
