//! The wire timestamp: epoch milliseconds inside, epoch seconds (a JSON number with
//! millisecond precision) on the wire, as restJson1 sends them when the model sets no format.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, in milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // f64 holds every millisecond timestamp of the next 140,000 years exactly enough for
        // the shortest round-trip form to print three decimals at most.
        s.serialize_f64(self.0 as f64 / 1000.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(d)?;
        Ok(Timestamp((secs * 1000.0).round() as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn encodes_epoch_seconds_with_millis() {
        let t = Timestamp(1_753_307_934_293);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1753307934.293");
        let back: Timestamp = serde_json::from_str("1753307934.293").unwrap();
        assert_eq!(back, t);
        assert_eq!(serde_json::to_string(&Timestamp(1_000)).unwrap(), "1.0");
    }
}
