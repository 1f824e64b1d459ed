//! Seeded randomness: the counter-based generator behind shuffling and dropout masks, and the seeded
//! generator behind weight initialization.
//!
//! Shuffles and masks come from a pure function of (seed, stream, counters...), so they do not depend on how work
//! is split across threads, and `ferronet.reference.rng` reproduces them bit for bit in NumPy:
//! `splitmix64` is the finalizer of Steele et al.'s SplitMix64, `hash_words` chains it over a key.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::scalar::Real;

/// The SplitMix64 increment (2^64 / golden ratio).
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Stream ids: one per use, so that the same counters in two uses give unrelated numbers.
pub const SHUFFLE: u64 = 1;
pub const DROPOUT: u64 = 2;
pub const DROPCONNECT: u64 = 3;
pub const INIT: u64 = 4;

/// One SplitMix64 step: a bijective 64-bit mixer of `x + GAMMA`.
#[inline(always)]
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash a key of several words into one: `h = splitmix64(w0)`, then `h = splitmix64(h ^ w)` for each next word.
#[inline]
pub fn hash_words(words: &[u64]) -> u64 {
    let mut iter = words.iter();
    let mut h = iter.next().map_or(splitmix64(0), |&w| splitmix64(w));
    for &w in iter {
        h = splitmix64(h ^ w);
    }
    h
}

/// The batch order of one epoch: a Fisher–Yates shuffle of 0..n whose draws are `hash_words(seed, SHUFFLE,
/// epoch, i)` mapped to 0..=i by a multiply-shift on their top 32 bits. Fills `order` (length n < 2^32).
pub fn epoch_permutation(order: &mut [u32], seed: u64, epoch: u64) {
    for (i, slot) in order.iter_mut().enumerate() {
        *slot = i as u32;
    }
    for i in (1..order.len()).rev() {
        let u = hash_words(&[seed, SHUFFLE, epoch, i as u64]);
        let j = (((u >> 32) * (i as u64 + 1)) >> 32) as usize;
        order.swap(i, j);
    }
}

/// The 53-bit threshold below which a draw keeps its unit: P(keep) = 1 - p.
#[inline]
pub fn keep_threshold(p: f64) -> u64 {
    ((1.0 - p) * 9_007_199_254_740_992.0) as u64
}

/// One row of an inverted-dropout mask: `out[c]` is `scale` where unit c is kept, else 0. The row's key is
/// `hash_words(seed, stream, step, layer, row)`; unit c draws `splitmix64(key + c·GAMMA)`.
pub fn fill_mask_row<T: Real>(out: &mut [T], key: u64, threshold: u64, scale: T) {
    for (c, slot) in out.iter_mut().enumerate() {
        *slot = if keeps(key, c, threshold) { scale } else { T::zero() };
    }
}

/// Whether unit `c` of the row keyed `key` is kept: its draw `splitmix64(key + c·GAMMA)` has its top 53 bits
/// below `threshold`.
#[inline(always)]
pub fn keeps(key: u64, c: usize, threshold: u64) -> bool {
    (splitmix64(key.wrapping_add((c as u64).wrapping_mul(GAMMA))) >> 11) < threshold
}

/// The row key of a mask (see `fill_mask_row`).
#[inline]
pub fn mask_row_key(seed: u64, stream: u64, step: u64, layer: usize, row: usize) -> u64 {
    hash_words(&[seed, stream, step, layer as u64, row as u64])
}

/// The generator that initializes layer `layer`'s weights.
pub fn init_rng(seed: u64, layer: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(hash_words(&[seed, INIT, layer as u64]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_published_sequence() {
        // SplitMix64 seeded with 0: the first outputs of the reference implementation.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(GAMMA), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn permutation_is_a_permutation_and_depends_on_seed_and_epoch() {
        let mut a = vec![0u32; 1000];
        epoch_permutation(&mut a, 42, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        let mut b = vec![0u32; 1000];
        epoch_permutation(&mut b, 42, 1);
        assert_ne!(a, b);
        let mut c = vec![0u32; 1000];
        epoch_permutation(&mut c, 42, 0);
        assert_eq!(a, c);
    }

    #[test]
    fn mask_keeps_about_one_minus_p() {
        let mut row = vec![0.0f64; 100_000];
        fill_mask_row(&mut row, mask_row_key(7, DROPOUT, 0, 1, 0), keep_threshold(0.3), 1.0 / 0.7);
        let kept = row.iter().filter(|&&v| v != 0.0).count() as f64 / row.len() as f64;
        assert!((kept - 0.7).abs() < 0.01, "kept fraction {kept}");
        let mut all = vec![0.0f32; 64];
        fill_mask_row(&mut all, 123, keep_threshold(0.0), 1.0);
        assert!(all.iter().all(|&v| v == 1.0));
    }
}
