//! Free appointment slots. Working hours are local times in the clinic's time zone; slots
//! are instants. Across daylight-saving changes a local interval is turned into instants first
//! and then cut into slots, so a day with a missing (or repeated) hour has fewer (or more)
//! slots, never a slot at a time that does not exist.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A local time of day range, `[start, end)`.
pub type LocalRange = (NaiveTime, NaiveTime);

/// The instant for a local date and time. In a gap (clocks jump forward) the first instant after
/// it; when ambiguous (clocks go back) the earlier or later one.
pub fn instant(tz: Tz, date: NaiveDate, t: NaiveTime, earlier: bool) -> DateTime<Utc> {
    let mut local = date.and_time(t);
    for _ in 0..(4 * 60) {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(x) => return x.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => {
                return if earlier { a } else { b }.with_timezone(&Utc);
            }
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&date.and_time(t))
}

/// Start and end instants of a local calendar day.
pub fn day_bounds(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = instant(tz, date, NaiveTime::MIN, true);
    let end = date.succ_opt().map_or(start + Duration::days(1), |d| {
        instant(tz, d, NaiveTime::MIN, true)
    });
    (start, end)
}

/// Intersection of two sets of local ranges.
fn intersect(a: &[LocalRange], b: &[LocalRange]) -> Vec<LocalRange> {
    let mut out = Vec::new();
    for (s1, e1) in a {
        for (s2, e2) in b {
            let s = (*s1).max(*s2);
            let e = (*e1).min(*e2);
            if s < e {
                out.push((s, e));
            }
        }
    }
    out.sort();
    out
}

/// What the schedule allows on one day for one provider.
#[derive(Clone, Debug, Default)]
pub struct DayRules {
    /// The provider's working ranges that weekday.
    pub provider: Vec<LocalRange>,
    /// The clinic's opening ranges that weekday; `None` when the clinic has set no hours at all.
    pub clinic: Option<Vec<LocalRange>>,
    pub holiday: bool,
    pub absent: bool,
}

/// The instants during which the provider can be booked that day.
pub fn bookable(tz: Tz, date: NaiveDate, rules: &DayRules) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    if rules.holiday || rules.absent {
        return Vec::new();
    }
    let local = match &rules.clinic {
        Some(c) => intersect(&rules.provider, c),
        None => rules.provider.clone(),
    };
    local
        .into_iter()
        .map(|(s, e)| (instant(tz, date, s, true), instant(tz, date, e, false)))
        .filter(|(s, e)| s < e)
        .collect()
}

/// Slot starts within `intervals`, `step` apart, long enough for `duration`, not overlapping
/// `busy`, and not before `not_before`.
pub fn free_slots(
    intervals: &[(DateTime<Utc>, DateTime<Utc>)],
    busy: &[(DateTime<Utc>, DateTime<Utc>)],
    duration: Duration,
    step: Duration,
    not_before: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    if step <= Duration::zero() || duration <= Duration::zero() {
        return out;
    }
    for (start, end) in intervals {
        let mut t = *start;
        while t + duration <= *end {
            let e = t + duration;
            if t >= not_before && !busy.iter().any(|(bs, be)| t < *be && *bs < e) {
                out.push(t);
            }
            t += step;
        }
    }
    out
}

/// Whether `[start, end)` lies inside one bookable interval.
pub fn within(
    intervals: &[(DateTime<Utc>, DateTime<Utc>)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> bool {
    intervals.iter().any(|(s, e)| *s <= start && end <= *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }
    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    fn local(tz: Tz, x: DateTime<Utc>) -> String {
        x.with_timezone(&tz).format("%H:%M").to_string()
    }
    fn rules(ranges: &[LocalRange]) -> DayRules {
        DayRules {
            provider: ranges.to_vec(),
            ..DayRules::default()
        }
    }
    const EPOCH: DateTime<Utc> = DateTime::<Utc>::MIN_UTC;

    #[test]
    fn kathmandu_quarter_hour_offset() {
        let tz: Tz = "Asia/Kathmandu".parse().unwrap();
        let iv = bookable(tz, d(2026, 3, 2), &rules(&[(t(9, 0), t(10, 0))]));
        assert_eq!(
            iv[0].0.format("%H:%M").to_string(),
            "03:15",
            "09:00 +05:45 is 03:15 UTC"
        );
        let slots = free_slots(
            &iv,
            &[],
            Duration::minutes(20),
            Duration::minutes(15),
            EPOCH,
        );
        let labels: Vec<String> = slots.iter().map(|s| local(tz, *s)).collect();
        assert_eq!(labels, ["09:00", "09:15", "09:30"]);
    }

    #[test]
    fn spring_forward_day_has_no_slots_in_the_missing_hour() {
        // Berlin, 29 March 2026: 02:00 -> 03:00.
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let iv = bookable(tz, d(2026, 3, 29), &rules(&[(t(1, 0), t(5, 0))]));
        let slots = free_slots(
            &iv,
            &[],
            Duration::minutes(30),
            Duration::minutes(30),
            EPOCH,
        );
        let labels: Vec<String> = slots.iter().map(|s| local(tz, *s)).collect();
        assert_eq!(
            labels,
            ["01:00", "01:30", "03:00", "03:30", "04:00", "04:30"]
        );
        // A range starting inside the gap starts when the clock says 03:00.
        let iv = bookable(tz, d(2026, 3, 29), &rules(&[(t(2, 30), t(4, 0))]));
        assert_eq!(local(tz, iv[0].0), "03:00");
    }

    #[test]
    fn fall_back_day_has_the_repeated_hour_twice() {
        // New York, 1 November 2026: 02:00 -> 01:00.
        let tz: Tz = "America/New_York".parse().unwrap();
        let iv = bookable(tz, d(2026, 11, 1), &rules(&[(t(0, 0), t(3, 0))]));
        let slots = free_slots(&iv, &[], Duration::hours(1), Duration::hours(1), EPOCH);
        let labels: Vec<String> = slots.iter().map(|s| local(tz, *s)).collect();
        assert_eq!(
            labels,
            ["00:00", "01:00", "01:00", "02:00"],
            "four real hours"
        );
        assert_eq!(iv[0].1 - iv[0].0, Duration::hours(4));
    }

    #[test]
    fn ordinary_day_shifts_with_the_offset() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let winter = bookable(tz, d(2026, 3, 27), &rules(&[(t(8, 0), t(9, 0))]));
        let summer = bookable(tz, d(2026, 3, 30), &rules(&[(t(8, 0), t(9, 0))]));
        assert_eq!(winter[0].0.format("%H:%M").to_string(), "07:00");
        assert_eq!(summer[0].0.format("%H:%M").to_string(), "06:00");
    }

    #[test]
    fn clinic_hours_holidays_absences_and_busy_times() {
        let tz: Tz = "UTC".parse().unwrap();
        let date = d(2026, 3, 2);
        let mut r = DayRules {
            provider: vec![(t(8, 0), t(12, 0)), (t(13, 0), t(17, 0))],
            clinic: Some(vec![(t(9, 0), t(16, 0))]),
            ..DayRules::default()
        };
        let iv = bookable(tz, date, &r);
        assert_eq!(iv.len(), 2);
        assert_eq!(local(tz, iv[0].0), "09:00");
        assert_eq!(local(tz, iv[1].1), "16:00");
        let busy = [(iv[0].0, iv[0].0 + Duration::minutes(45))];
        let slots = free_slots(
            &iv,
            &busy,
            Duration::minutes(30),
            Duration::minutes(15),
            EPOCH,
        );
        assert_eq!(local(tz, slots[0]), "09:45");
        assert!(within(&iv, iv[0].0, iv[0].0 + Duration::hours(3)));
        assert!(
            !within(&iv, iv[0].0, iv[0].0 + Duration::hours(4)),
            "spans the break"
        );
        r.holiday = true;
        assert!(bookable(tz, date, &r).is_empty());
        r.holiday = false;
        r.absent = true;
        assert!(bookable(tz, date, &r).is_empty());
        let not_before = iv[1].0 + Duration::minutes(1);
        let later = free_slots(
            &iv,
            &[],
            Duration::minutes(30),
            Duration::minutes(30),
            not_before,
        );
        assert_eq!(local(tz, later[0]), "13:30");
    }
}

/// Parses working hours typed as `08:00-12:30, 13:30-17:00` (empty: not working that day).
/// The error is an i18n message (`i18n::msg`) naming the part that is wrong.
pub fn parse_ranges(s: &str) -> Result<Vec<LocalRange>, String> {
    use crate::i18n::msg;
    let mut out: Vec<LocalRange> = Vec::new();
    for part in s.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part
            .split_once(['-', '–'])
            .ok_or_else(|| msg("invalid.range_form", &[("part", &part)]))?;
        let parse = |x: &str| {
            NaiveTime::parse_from_str(x.trim(), "%H:%M")
                .map_err(|_| msg("invalid.range_time", &[("part", &x.trim())]))
        };
        let (start, end) = (parse(a)?, parse(b)?);
        if end <= start {
            return Err(msg("invalid.range_order", &[("part", &part)]));
        }
        if out.iter().any(|(s2, e2)| start < *e2 && *s2 < end) {
            return Err(msg("invalid.range_overlap", &[("part", &part)]));
        }
        out.push((start, end));
    }
    out.sort();
    Ok(out)
}

pub fn format_ranges(r: &[LocalRange]) -> String {
    r.iter()
        .map(|(s, e)| format!("{}-{}", s.format("%H:%M"), e.format("%H:%M")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn typed_ranges() {
        let r = parse_ranges("13:30-17:00, 08:00–12:30").unwrap();
        assert_eq!(format_ranges(&r), "08:00-12:30, 13:30-17:00");
        assert!(parse_ranges("").unwrap().is_empty());
        assert!(parse_ranges("9-5").is_err());
        assert!(parse_ranges("10:00-09:00").is_err());
        let e = parse_ranges("08:00-12:00, 11:00-13:00").unwrap_err();
        assert_eq!(
            crate::i18n::en_message(&e),
            "\"11:00-13:00\" overlaps another range"
        );
    }
}
