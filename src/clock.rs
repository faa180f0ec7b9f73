//! When a snapshot was taken: the wall clock in RFC 3339 for people, and
//! CLOCK_BOOTTIME for the time between two snapshots, which neither jumps
//! with the wall clock nor stops while the machine sleeps.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::model::Taken;

pub fn now() -> Taken {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Taken {
        wall: rfc3339(wall.as_secs(), wall.subsec_millis()),
        boottime_ms: boottime_ms(),
    }
}

pub fn boottime_ms() -> u64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `time` is.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut time) };
    u64::try_from(time.tv_sec).unwrap_or(0) * 1000
        + u64::try_from(time.tv_nsec).unwrap_or(0) / 1_000_000
}

/// `2026-11-30T00:35:04.123Z` for a Unix time, in UTC.
pub fn rfc3339(unix_secs: u64, millis: u32) -> String {
    let days = unix_secs / 86_400;
    let of_day = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        // Checked with `date -u -d @SECONDS +%FT%T`.
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_798_590_904, 123), "2026-12-30T00:35:04.123Z");
        assert_eq!(rfc3339(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn boottime_moves_forward() {
        let first = boottime_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(boottime_ms() >= first + 20);
    }
}
