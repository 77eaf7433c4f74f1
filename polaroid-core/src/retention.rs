//! How long a table keeps its rows and how large it may grow. Whole
//! partitions go, oldest first, when the log's rows are written out: a
//! partition whose end lies more than the TTL before the table's newest row
//! (QuestDB's `TTL`), then, past a size cap, the oldest partitions until
//! the parts fit. The partition being written to is never dropped.

use std::path::{Path, PathBuf};

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::tables::PartitionBy;

/// A table's retention; the default keeps everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Partitions that ended this long before the newest row are dropped.
    #[serde(default)]
    pub ttl: Option<Ttl>,
    /// Most bytes of part files; beyond it the oldest partitions are dropped.
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

impl Retention {
    pub fn is_none(&self) -> bool {
        self.ttl.is_none() && self.max_bytes.is_none()
    }
}

/// QuestDB's `TTL <count> <unit>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ttl {
    pub count: u32,
    pub unit: TtlUnit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TtlUnit {
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl Ttl {
    /// `2 DAYS`, `1 HOUR`, `3W`, `12 months`: QuestDB's forms.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (count, unit) = (&text[..split], text[split..].trim());
        let bad = || {
            CoreError::InvalidArgument(format!(
                "TTL {text:?}: expected a count and HOURS, DAYS, WEEKS, MONTHS or YEARS (e.g. TTL 2 DAYS)"
            ))
        };
        let count: u32 = count.parse().map_err(|_| bad())?;
        let unit = match unit.to_ascii_uppercase().as_str() {
            "H" | "HOUR" | "HOURS" => TtlUnit::Hours,
            "D" | "DAY" | "DAYS" => TtlUnit::Days,
            "W" | "WEEK" | "WEEKS" => TtlUnit::Weeks,
            "M" | "MONTH" | "MONTHS" => TtlUnit::Months,
            "Y" | "YEAR" | "YEARS" => TtlUnit::Years,
            _ => return Err(bad()),
        };
        Ok(Self { count, unit })
    }

    /// The time `self` before `t`.
    fn before(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let n = self.count;
        match self.unit {
            TtlUnit::Hours => t.checked_sub_signed(Duration::hours(n.into())),
            TtlUnit::Days => t.checked_sub_signed(Duration::days(n.into())),
            TtlUnit::Weeks => t.checked_sub_signed(Duration::weeks(n.into())),
            TtlUnit::Months => t.checked_sub_months(Months::new(n)),
            TtlUnit::Years => t.checked_sub_months(Months::new(n.checked_mul(12)?)),
        }
    }
}

impl std::fmt::Display for Ttl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.unit {
            TtlUnit::Hours => "HOURS",
            TtlUnit::Days => "DAYS",
            TtlUnit::Weeks => "WEEKS",
            TtlUnit::Months => "MONTHS",
            TtlUnit::Years => "YEARS",
        };
        write!(f, "{} {unit}", self.count)
    }
}

/// When the partition named `name` starts.
pub fn partition_start(by: PartitionBy, name: &str) -> Option<NaiveDateTime> {
    let day = |text: &str, format: &str| NaiveDate::parse_from_str(text, format).ok().and_then(|d| d.and_hms_opt(0, 0, 0));
    match by {
        PartitionBy::None => None,
        PartitionBy::Hour => NaiveDateTime::parse_from_str(&format!("{name}:00"), "%Y-%m-%dT%H:%M").ok(),
        PartitionBy::Day => day(name, "%Y-%m-%d"),
        PartitionBy::Week => day(&format!("{name}-1"), "%G-W%V-%u"),
        PartitionBy::Month => day(&format!("{name}-01"), "%Y-%m-%d"),
        PartitionBy::Year => day(&format!("{name}-01-01"), "%Y-%m-%d"),
    }
}

/// When the partition named `name` ends (its start plus one unit).
pub(crate) fn partition_end(by: PartitionBy, name: &str) -> Option<NaiveDateTime> {
    let start = partition_start(by, name)?;
    match by {
        PartitionBy::Hour => start.checked_add_signed(Duration::hours(1)),
        PartitionBy::Day => start.checked_add_signed(Duration::days(1)),
        PartitionBy::Week => start.checked_add_signed(Duration::weeks(1)),
        PartitionBy::Month => start.checked_add_months(Months::new(1)),
        PartitionBy::Year => start.checked_add_months(Months::new(12)),
        PartitionBy::None => None,
    }
}

/// The parts to drop under `retention`, and why (for the log). `parts` are
/// the table's part files (each in its partition's directory); `newest` is
/// the table's newest row time, capped by the wall clock so one row stamped
/// in the future cannot empty the table.
pub(crate) fn parts_to_drop(
    parts: &[PathBuf],
    by: PartitionBy,
    retention: &Retention,
    newest: Option<NaiveDateTime>,
) -> Result<Vec<PathBuf>, CoreError> {
    // No part yet (a new or emptied table): nothing to drop.
    if retention.is_none() || by == PartitionBy::None || parts.is_empty() {
        return Ok(Vec::new());
    }
    // Partitions by name: their names sort by time.
    let mut partitions: Vec<(String, Vec<&PathBuf>)> = Vec::new();
    for part in parts {
        let name = partition_name(part);
        match partitions.iter_mut().find(|(n, _)| *n == name) {
            Some((_, files)) => files.push(part),
            None => partitions.push((name, vec![part])),
        }
    }
    partitions.sort_by(|a, b| a.0.cmp(&b.0));
    let mut keep = partitions.len();
    let mut dropped = 0;
    if let (Some(ttl), Some(newest)) = (retention.ttl, newest) {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let now = chrono::DateTime::from_timestamp(since_epoch.as_secs() as i64, 0).unwrap_or_default().naive_utc();
        if let Some(cutoff) = ttl.before(newest.min(now)) {
            while dropped + 1 < keep && partition_end(by, &partitions[dropped].0).is_some_and(|end| end <= cutoff) {
                dropped += 1;
            }
        }
    }
    if let Some(max) = retention.max_bytes {
        // Each file is measured once: a table may have thousands of parts.
        let sizes = partitions[dropped..]
            .iter()
            .map(|(_, files)| files.iter().map(|f| file_size(f)).sum::<Result<u64, CoreError>>())
            .collect::<Result<Vec<u64>, CoreError>>()?;
        let mut total: u64 = sizes.iter().sum();
        let mut oldest = sizes.iter();
        while total > max && dropped + 1 < keep {
            total -= oldest.next().expect("one size per partition left");
            dropped += 1;
        }
    }
    keep -= dropped;
    debug_assert!(keep >= 1);
    Ok(partitions[..dropped].iter().flat_map(|(_, files)| files.iter().map(|f| (*f).clone())).collect())
}

/// The partition a part file belongs to: its directory's name.
pub(crate) fn partition_name(part: &Path) -> String {
    part.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn file_size(path: &Path) -> Result<u64, CoreError> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| CoreError::Internal(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn ttl_in_questdbs_forms() {
        for (text, count, unit) in
            [("2 DAYS", 2, TtlUnit::Days), ("1 hour", 1, TtlUnit::Hours), ("3W", 3, TtlUnit::Weeks), ("12 MONTHS", 12, TtlUnit::Months), ("1Y", 1, TtlUnit::Years)]
        {
            assert_eq!(Ttl::parse(text).unwrap(), Ttl { count, unit }, "{text}");
        }
        assert!(Ttl::parse("2 fortnights").is_err());
        assert!(Ttl::parse("DAYS").is_err());
        assert_eq!(Ttl::parse("2d").unwrap().to_string(), "2 DAYS");
    }

    #[test]
    fn partitions_end_one_unit_after_their_name() {
        assert_eq!(partition_end(PartitionBy::Day, "2024-03-08"), Some(at("2024-03-09 00:00")));
        assert_eq!(partition_end(PartitionBy::Hour, "2024-03-08T23"), Some(at("2024-03-09 00:00")));
        assert_eq!(partition_end(PartitionBy::Week, "2024-W10"), Some(at("2024-03-11 00:00")));
        assert_eq!(partition_end(PartitionBy::Month, "2024-12"), Some(at("2025-01-01 00:00")));
        assert_eq!(partition_end(PartitionBy::Year, "2024"), Some(at("2025-01-01 00:00")));
        assert_eq!(partition_end(PartitionBy::Day, "default"), None);
    }

    #[test]
    fn ttl_drops_partitions_ended_before_the_newest_row_less_the_ttl_never_the_last() {
        let parts: Vec<PathBuf> = ["2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
            .iter()
            .map(|d| PathBuf::from(format!("/t/{d}/part-1.arrow")))
            .collect();
        let retention = Retention { ttl: Some(Ttl::parse("2 DAYS").unwrap()), max_bytes: None };
        // Newest 2024-03-08 10:00: cutoff 03-06 10:00; 03-05 ended 03-06 00:00.
        let dropped = parts_to_drop(&parts, PartitionBy::Day, &retention, Some(at("2024-03-08 10:00"))).unwrap();
        assert_eq!(dropped, parts[..1]);
        let retention = Retention { ttl: Some(Ttl::parse("1 HOUR").unwrap()), max_bytes: None };
        let dropped = parts_to_drop(&parts, PartitionBy::Day, &retention, Some(at("2030-01-01 00:00"))).unwrap();
        assert_eq!(dropped, parts[..3], "the newest partition stays");
        assert!(parts_to_drop(&parts, PartitionBy::None, &retention, Some(at("2030-01-01 00:00"))).unwrap().is_empty());
    }
}
