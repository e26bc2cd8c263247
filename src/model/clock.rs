//! Times as the chat shows them, in the local offset read once at start.

use std::sync::OnceLock;

use time::{OffsetDateTime, UtcOffset};

static LOCAL_OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Must be called before threads start: the `time` crate refuses to read the local offset later on Unix.
pub fn init_local_offset() {
    let off = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let _ = LOCAL_OFFSET.set(off);
}

/// Current time in the local offset captured by [`init_local_offset`] (UTC if never captured).
pub fn now() -> OffsetDateTime {
    let off = LOCAL_OFFSET.get().copied().unwrap_or(UtcOffset::UTC);
    OffsetDateTime::now_utc().to_offset(off)
}

/// `HH:MM:SS`, the time column of a chat line.
pub fn clock(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// `YYYYMMDD-HHMMSS`: a time that sorts and is safe in a file name.
pub fn file_stamp(t: OffsetDateTime) -> String {
    let d = t.date();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        d.year(),
        u8::from(d.month()),
        d.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// RFC 3339 with milliseconds, for JSON and logs.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let off = t.offset();
    let (oh, om, _) = off.as_hms();
    let sign = if off.is_negative() { '-' } else { '+' };
    let zone = if off.is_utc() { "Z".to_string() } else { format!("{sign}{:02}:{:02}", oh.abs(), om.abs()) };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{zone}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn file_stamps_sort_by_time() {
        assert_eq!(file_stamp(datetime!(2026-01-02 03:04:05 UTC)), "20260102-030405");
    }

    #[test]
    fn utc_times_end_in_z() {
        assert_eq!(rfc3339(datetime!(2026-01-02 03:04:05.006 UTC)), "2026-01-02T03:04:05.006Z");
        assert_eq!(rfc3339(datetime!(2026-01-02 03:04:05 -05:30)), "2026-01-02T03:04:05.000-05:30");
    }
}
