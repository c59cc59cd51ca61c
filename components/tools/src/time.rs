//! UTC timestamps for saved memories, without a date library.

use crate::prelude::*;

use crate::error::num;

/// `2024-05-06T07:08:09Z` for seconds since the Unix epoch.
pub fn iso8601(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let mut s = String::with_capacity(20);
    s.push_str(&num(y as u64));
    for (sep, v) in [
        ('-', m),
        ('-', d),
        ('T', rem / 3600),
        (':', rem / 60 % 60),
        (':', rem % 60),
    ] {
        s.push(sep);
        if v < 10 {
            s.push('0');
        }
        s.push_str(&num(v));
    }
    s.push('Z');
    s
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u64, u64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
