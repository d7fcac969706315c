/**
 * 32-bit FNV-1a over the string's UTF-16 code units (each fed as two bytes, so
 * non-ASCII keys spread as well as ASCII ones). Fast, dependency-free and the same in
 * every process: two balancers given the same targets hash a key the same way.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    hash = Math.imul(hash ^ (unit & 0xff), 0x01000193);
    hash = Math.imul(hash ^ (unit >>> 8), 0x01000193);
  }
  return hash >>> 0;
}

/**
 * MurmurHash3's 32-bit finaliser: a bijective mix in which every input bit flips each
 * output bit with probability about 1/2. FNV-1a alone mixes its last bytes poorly, and
 * rendezvous hashing needs the scores of one key on different targets to look
 * independent.
 */
export function mix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
