//! Shards: `--shard I/N` runs a deterministic share of a scenario's load so that N machines
//! together produce all of it.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0-based): `0/1` is the whole load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards share the load.
    pub count: u32,
}

impl Shard {
    /// The whole load.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// This shard's share of `total` virtual users: the shares of all shards add up to
    /// `total` exactly, the first `total % count` shards taking one more.
    ///
    /// ```
    /// use scenarios::Shard;
    /// let shares: Vec<u32> = (0..4).map(|i| Shard { index: i, count: 4 }.share(34)).collect();
    /// assert_eq!(shares, [9, 9, 8, 8]);
    /// ```
    pub fn share(self, total: u32) -> u32 {
        total / self.count + u32::from(self.index < total % self.count)
    }

    /// This shard's share of a rate.
    pub fn share_rate(self, total: f64) -> f64 {
        total / f64::from(self.count)
    }

    /// The run-wide number of this shard's virtual user `local` (1-based), so that users of
    /// different shards never share an identity.
    pub fn global_vu(self, local: u32) -> u32 {
        (local - 1) * self.count + self.index + 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || format!("`{s}` is no shard: expected I/N with 0 <= I < N, e.g. 0/4");
        let (index, count) = s.split_once('/').ok_or_else(expected)?;
        let index: u32 = index.trim().parse().map_err(|_| expected())?;
        let count: u32 = count.trim().parse().map_err(|_| expected())?;
        if count == 0 || index >= count {
            return Err(expected());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_exactly() {
        for count in 1..=7u32 {
            for total in [0u32, 1, 5, 34, 100, 1001] {
                let sum: u32 = (0..count)
                    .map(|index| Shard { index, count }.share(total))
                    .sum();
                assert_eq!(sum, total, "{total} over {count}");
            }
            let rates: f64 = (0..count)
                .map(|index| Shard { index, count }.share_rate(2000.0))
                .sum();
            assert!((rates - 2000.0).abs() < 1e-9);
        }
    }

    #[test]
    fn global_vus_never_collide() {
        let mut seen = std::collections::BTreeSet::new();
        for index in 0..3 {
            for local in 1..=5 {
                assert!(seen.insert(Shard { index, count: 3 }.global_vu(local)));
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            (1..=15).collect::<Vec<_>>()
        );
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("I/N"), "{bad}");
        }
    }
}
