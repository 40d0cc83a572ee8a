//! Timestamps as the APIs write them: RFC 3339 in UTC (`Z`) with a fixed
//! number of fractional digits, so that every value has one spelling and
//! text order is time order.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// Serde `serialize_with`: `2026-11-29T20:09:29.000Z`, milliseconds always.
pub fn millis<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Serde `serialize_with`: `2026-11-29T20:09:29.000000Z`, microseconds always.
pub fn micros<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&time.to_rfc3339_opts(SecondsFormat::Micros, true))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde::Serialize;

    #[derive(Serialize)]
    struct Both {
        #[serde(serialize_with = "super::millis")]
        ms: DateTime<Utc>,
        #[serde(serialize_with = "super::micros")]
        us: DateTime<Utc>,
    }

    #[test]
    fn whole_seconds_keep_their_fraction_digits() {
        let t: DateTime<Utc> = "2026-11-29T20:09:29Z".parse().unwrap();
        let json = serde_json::to_value(Both { ms: t, us: t }).unwrap();
        assert_eq!(json["ms"], "2026-11-29T20:09:29.000Z");
        assert_eq!(json["us"], "2026-11-29T20:09:29.000000Z");
    }
}
