//! Instants on the wire. The server writes them as RFC 3339 in UTC; the browser only shows them,
//! so a [`Timestamp`] keeps the text as the server wrote it and the browser's bundle carries no
//! date library (chrono's parser and visitor were 9 KB of its gzipped WebAssembly). With the
//! `chrono` feature, the server's, a timestamp is made from an instant and read back as one.

use serde::{Deserialize, Serialize};

/// An instant as the wire carries it: RFC 3339 in UTC, `2023-11-14T22:13:20.123Z` (fractions of
/// a second only when there are any). Compared as text: the server writes one instant one way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Default for Timestamp {
    /// The Unix epoch, as chrono's default instant.
    fn default() -> Self {
        Self("1970-01-01T00:00:00Z".into())
    }
}

impl Timestamp {
    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The day and the minute, `2023-11-14 22:13 UTC`: what a person reads in a list. The text
    /// as written if it is not RFC 3339.
    pub fn to_minute(&self) -> String {
        match (self.0.get(..10), self.0.get(10..11), self.0.get(11..16)) {
            (Some(day), Some("T"), Some(minute)) => format!("{day} {minute} UTC"),
            _ => self.0.clone(),
        }
    }
}

#[cfg(feature = "chrono")]
mod instants {
    use chrono::{DateTime, SecondsFormat, Utc};

    use super::Timestamp;

    impl From<DateTime<Utc>> for Timestamp {
        /// Written as chrono's own serde writes it, so the wire is what it was.
        fn from(at: DateTime<Utc>) -> Self {
            Self(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }
    }

    impl Timestamp {
        /// The instant `ms` milliseconds after the Unix epoch (`None` beyond chrono's range).
        pub fn from_millis(ms: i64) -> Option<Self> {
            DateTime::from_timestamp_millis(ms).map(Self::from)
        }

        /// The instant written (`None` for text that is not RFC 3339).
        pub fn to_datetime(&self) -> Option<DateTime<Utc>> {
            DateTime::parse_from_rfc3339(&self.0)
                .ok()
                .map(|at| at.to_utc())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Timestamp {
        serde_json::from_value(serde_json::json!(text)).unwrap()
    }

    #[test]
    fn a_timestamp_travels_as_the_text_the_server_wrote() {
        let at = read("2023-11-14T22:13:20.123Z");
        assert_eq!(at.as_str(), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            serde_json::to_value(&at).unwrap(),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn a_timestamp_reads_to_the_minute_and_odd_text_as_it_is() {
        assert_eq!(
            read("2023-11-14T22:13:20.123Z").to_minute(),
            "2023-11-14 22:13 UTC"
        );
        assert_eq!(read("yesterday").to_minute(), "yesterday");
        assert_eq!(read("2023-11-14 22:13").to_minute(), "2023-11-14 22:13");
    }

    #[cfg(feature = "chrono")]
    #[test]
    fn the_server_writes_an_instant_as_chrono_s_serde_does_and_reads_it_back() {
        assert_eq!(Timestamp::from_millis(0), Some(Timestamp::default()));
        for ms in [1_700_000_000_123, 1_700_000_000_000, 0] {
            let instant = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            let at = Timestamp::from_millis(ms).unwrap();
            assert_eq!(
                serde_json::to_value(&at).unwrap(),
                serde_json::to_value(instant).unwrap()
            );
            assert_eq!(at.to_datetime(), Some(instant));
        }
        assert_eq!(
            Timestamp::from_millis(1_700_000_000_000).unwrap().as_str(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(read("not a time").to_datetime(), None);
    }
}
