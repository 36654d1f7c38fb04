//! UTC wall-clock formatting the way IOS prints it (`show clock`, log timestamps, uptime),
//! without a time-zone database: the appliance reports UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// 0 = Thursday (1970-01-01).
    pub weekday_from_thu: u32,
}

/// Converts a time to UTC fields (days-to-civil after H. Hinnant).
pub fn civil(t: SystemTime) -> Civil {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: sod / 60 % 60,
        second: sod % 60,
        millis: d.subsec_millis(),
        weekday_from_thu: days.rem_euclid(7) as u32,
    }
}

/// `show clock`: `*18:57:38.347 UTC Mon Oct 19 2015` (the `*`: time not NTP-synchronised).
pub fn show_clock(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "*{:02}:{:02}:{:02}.{:03} UTC {} {} {} {}",
        c.hour,
        c.minute,
        c.second,
        c.millis,
        WEEKDAYS[c.weekday_from_thu as usize % 7],
        MONTHS[(c.month as usize + 11) % 12],
        c.day,
        c.year
    )
}

/// Log buffer timestamp: `Jun 19 03:02:31.123 UTC`.
pub fn log_timestamp(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{} {:2} {:02}:{:02}:{:02}.{:03} UTC",
        MONTHS[(c.month as usize + 11) % 12],
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.millis
    )
}

/// IOS uptime: `1 week, 3 days, 16 hours, 11 minutes` (leading zero units left out).
pub fn uptime(d: Duration) -> String {
    let mins = d.as_secs() / 60;
    let (w, rest) = (mins / (7 * 1440), mins % (7 * 1440));
    let (days, rest) = (rest / 1440, rest % 1440);
    let (h, m) = (rest / 60, rest % 60);
    let unit = |n: u64, s: &str| format!("{n} {s}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if w > 0 {
        parts.push(unit(w, "week"));
    }
    if w > 0 || days > 0 {
        parts.push(unit(days, "day"));
    }
    if w > 0 || days > 0 || h > 0 {
        parts.push(unit(h, "hour"));
    }
    parts.push(unit(m, "minute"));
    parts.join(", ")
}

/// Short age as routing tables print it: `00:12:01` under a day, `1d05h`, `3w4d`.
pub fn short_age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 86_400 {
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else if s < 7 * 86_400 {
        format!("{}d{:02}h", s / 86_400, s / 3600 % 24)
    } else {
        format!("{}w{}d", s / (7 * 86_400), s / 86_400 % 7)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2015-10-19 18:57:38.347 UTC, a Monday.
        let t = UNIX_EPOCH + Duration::from_millis(1_445_281_058_347);
        assert_eq!(show_clock(t), "*18:57:38.347 UTC Mon Oct 19 2015");
        assert_eq!(log_timestamp(t), "Oct 19 18:57:38.347 UTC");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        let c = civil(leap);
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
    }

    #[test]
    fn uptimes() {
        assert_eq!(uptime(Duration::from_secs(59)), "0 minutes");
        assert_eq!(uptime(Duration::from_secs(3600 + 60)), "1 hour, 1 minute");
        let d = Duration::from_secs(((7 + 3) * 1440 + 16 * 60 + 11) * 60);
        assert_eq!(uptime(d), "1 week, 3 days, 16 hours, 11 minutes");
        assert_eq!(short_age(Duration::from_secs(721)), "00:12:01");
        assert_eq!(short_age(Duration::from_secs(86_400 + 5 * 3600)), "1d05h");
        assert_eq!(short_age(Duration::from_secs(25 * 86_400)), "3w4d");
    }
}
