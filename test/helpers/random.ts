import { mulberry32 } from '../../ts/raft/random';

/** A seeded PRNG so every randomized test replays from its printed seed. */
export function seededRandom(seed: number): () => number {
  return mulberry32(seed).next;
}
