//! A small seeded pseudo-random generator (SplitMix64) and a Fisher-Yates shuffle, to shuffle
//! the order of the runtimes every round reproducibly (the seed is printed and saved). Pure.

/// SplitMix64: a 64-bit generator with good statistical quality for shuffling.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..bound` (`bound > 0`), without modulo bias.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "bound must be positive");
        let zone = u64::MAX - (u64::MAX % bound);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % bound;
            }
        }
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }

    #[test]
    fn shuffle_is_a_permutation_and_varies() {
        let mut rng = SplitMix64::new(7);
        let mut seen_orders = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut v = vec![0, 1, 2, 3];
            rng.shuffle(&mut v);
            let mut sorted = v.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2, 3]);
            seen_orders.insert(v);
        }
        // 4! = 24 orders; 200 shuffles should reach nearly all of them.
        assert!(seen_orders.len() >= 20, "only {} orders", seen_orders.len());
    }

    #[test]
    fn every_position_gets_every_item() {
        let mut rng = SplitMix64::new(3);
        let mut first = [0usize; 3];
        for _ in 0..3000 {
            let mut v = [0usize, 1, 2];
            rng.shuffle(&mut v);
            first[v[0]] += 1;
        }
        for count in first {
            assert!((800..1200).contains(&count), "{first:?}");
        }
    }
}
