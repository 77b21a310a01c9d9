//! What a report is: a kind, a date range (and a grouping), a table of typed cells with a
//! totals row, and a bar chart. The page, the CSV file and the API all render this one shape.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::domain::billing::model::FiscalStart;
use crate::domain::billing::money::Currency;
use crate::domain::validation::Errors;

/// The longest range a report covers: three years and a day.
pub const MAX_DAYS: i64 = 3 * 366;

/// Rows a page shows; the CSV file and the API have them all.
pub const PAGE_ROWS: usize = 1000;

/// The reports there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReportKind)]
pub enum Kind {
    /// Issued invoices less credit notes, by service, clinician or day.
    Revenue,
    /// Every numbered invoice and credit note, in number order.
    SalesRegister,
    /// Cancelled invoices with who cancelled them and why.
    Cancellations,
    /// Appointments, attendance and the no-show rate, by day or clinician.
    Appointments,
    /// Signed visits by diagnosis.
    Diagnoses,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Self::Revenue,
        Self::SalesRegister,
        Self::Cancellations,
        Self::Appointments,
        Self::Diagnoses,
    ];

    /// Its name in paths, the audit log and file names.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Revenue => "revenue",
            Self::SalesRegister => "sales-register",
            Self::Cancellations => "cancellations",
            Self::Appointments => "appointments",
            Self::Diagnoses => "diagnoses",
        }
    }

    /// Its title's message key.
    pub fn title(self) -> &'static str {
        match self {
            Self::Revenue => "reports.revenue",
            Self::SalesRegister => "reports.sales_register",
            Self::Cancellations => "reports.cancellations",
            Self::Appointments => "reports.appointments",
            Self::Diagnoses => "reports.diagnoses",
        }
    }

    /// What it shows, one line (message key).
    pub fn about(self) -> &'static str {
        match self {
            Self::Revenue => "reports.revenue_about",
            Self::SalesRegister => "reports.sales_register_about",
            Self::Cancellations => "reports.cancellations_about",
            Self::Appointments => "reports.appointments_about",
            Self::Diagnoses => "reports.diagnoses_about",
        }
    }

    /// The groupings it offers, the default first (none: it has one layout).
    pub fn groupings(self) -> &'static [Group] {
        match self {
            Self::Revenue => &[Group::Service, Group::Clinician, Group::Day],
            Self::Appointments => &[Group::Day, Group::Clinician],
            _ => &[],
        }
    }
}

/// How a report's rows are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReportGroup)]
pub enum Group {
    Service,
    Clinician,
    Day,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Clinician => "clinician",
            Self::Day => "day",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Service => "reports.by_service",
            Self::Clinician => "reports.by_clinician",
            Self::Day => "reports.by_day",
        }
    }
}

/// A report's range and grouping as typed in (a form, a query string).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Request {
    /// First day, `YYYY-MM-DD` (default: the first of this month).
    pub from: Option<String>,
    /// Last day, included, `YYYY-MM-DD` (default: today).
    pub to: Option<String>,
    /// A fiscal year (`2026/27`, or `2026` when it starts in January): its first and last
    /// day, instead of `from` and `to`.
    pub fy: Option<String>,
    /// `service`, `clinician` or `day`, as the report offers.
    pub by: Option<String>,
}

/// A checked range: `from` to `to`, both included, in the clinic's calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: Option<Group>,
}

impl Request {
    /// Checks the request against `today` (the clinic's) and its fiscal year start. Every
    /// problem is named by its field.
    pub fn check(
        &self,
        kind: Kind,
        today: NaiveDate,
        fiscal: FiscalStart,
    ) -> Result<Range, Errors> {
        let mut e = Errors::new();
        let date = |e: &mut Errors, field: &'static str, v: &Option<String>| match v
            .as_deref()
            .map(str::trim)
        {
            None | Some("") => None,
            Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) if (1900..=2200).contains(&d.year()) => Some(d),
                _ => {
                    e.add(field, "invalid.report_date");
                    None
                }
            },
        };
        let (mut from, mut to) = (
            date(&mut e, "from", &self.from).unwrap_or_else(|| today.with_day(1).unwrap_or(today)),
            date(&mut e, "to", &self.to).unwrap_or(today),
        );
        if let Some(fy) = self.fy.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            match fiscal_year_days(fiscal, fy) {
                Some((f, t)) => (from, to) = (f, t),
                None => e.add("fy", "invalid.fiscal_year"),
            }
        }
        if e.get("from").is_none() && e.get("to").is_none() {
            if to < from {
                e.add("to", "invalid.report_range");
            } else if (to - from).num_days() >= MAX_DAYS {
                e.add("to", "invalid.report_range_long");
            }
        }
        let groups = kind.groupings();
        let by = match self.by.as_deref().map(str::trim) {
            None | Some("") => groups.first().copied(),
            Some(s) => match groups.iter().find(|g| g.as_str() == s) {
                Some(g) => Some(*g),
                None => {
                    e.add("by", "invalid.report_group");
                    None
                }
            },
        };
        e.into_result(Range { from, to, by })
    }
}

/// The first and last day of fiscal year `fy` (`2026/27` or `2026`), if it is one.
pub fn fiscal_year_days(fiscal: FiscalStart, fy: &str) -> Option<(NaiveDate, NaiveDate)> {
    let start: i32 = fy.split('/').next()?.parse().ok()?;
    if !(1900..=2200).contains(&start) {
        return None;
    }
    let first = fiscal.start_of(NaiveDate::from_ymd_opt(start, 12, 31)?);
    let first = if fiscal.year_of(first) == fy {
        first
    } else {
        // A year that starts mid-year: `start_of(31 Dec)` is its first day; anything else
        // (`2026/99`) is not a fiscal year.
        return None;
    };
    let next = fiscal.start_of(first + Duration::days(400));
    Some((first, next - Duration::days(1)))
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Text,
    Count,
    /// Minor units of the clinic's currency.
    Money,
    /// Basis points (1250 = 12.5 %).
    Percent,
    Date,
    /// An instant, shown in the clinic's time zone.
    Time,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The heading's message key.
    pub key: &'static str,
    pub kind: ColumnKind,
}

pub const fn col(key: &'static str, kind: ColumnKind) -> Column {
    Column { key, kind }
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    /// Words of the interface (a message key; `{n}` in it replaced by the number).
    Label(&'static str, Option<i64>),
    Count(i64),
    Money(i64),
    /// Basis points; `None` when there is nothing to divide by.
    Percent(Option<i64>),
    Date(NaiveDate),
    Time(DateTime<Utc>),
    Empty,
}

impl Cell {
    /// As JSON: money in minor units, a share in basis points, dates `YYYY-MM-DD`, instants
    /// RFC 3339.
    pub fn json(&self, t: &dyn Fn(&str) -> String) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Self::Text(s) => Value::from(s.as_str()),
            Self::Label(..) => Value::from(self.plain(Tz::UTC, t)),
            Self::Count(n) | Self::Money(n) => Value::from(*n),
            Self::Percent(p) => p.map_or(Value::Null, Value::from),
            Self::Date(d) => Value::from(d.to_string()),
            Self::Time(t) => Value::from(t.to_rfc3339()),
            Self::Empty => Value::Null,
        }
    }

    /// As a page or a CSV file shows it: money as `1234.50` for a spreadsheet (the page
    /// formats it with the currency itself).
    pub fn plain(&self, tz: Tz, t: &dyn Fn(&str) -> String) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Label(k, n) => match n {
                Some(n) => t(k).replace("{n}", &n.to_string()),
                None => t(k),
            },
            Self::Count(n) => n.to_string(),
            Self::Money(m) => {
                let a = m.unsigned_abs();
                format!(
                    "{}{}.{:02}",
                    if *m < 0 { "-" } else { "" },
                    a / 100,
                    a % 100
                )
            }
            Self::Percent(p) => p.map_or_else(String::new, percent),
            Self::Date(d) => d.to_string(),
            Self::Time(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
            Self::Empty => String::new(),
        }
    }
}

/// `12.5 %` from basis points (one decimal, rounded half up).
pub fn percent(bp: i64) -> String {
    let tenths = (bp + 5) / 10;
    format!("{}.{} %", tenths / 10, tenths % 10)
}

/// `part` of `whole` in basis points, rounded half up; `None` for nothing of nothing.
pub fn share(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| (part * 20_000 + whole) / (2 * whole))
}

/// One bar: its label and value, and the part of it drawn darker (no-shows of
/// appointments), if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub part: Option<i64>,
}

/// A report: its table and its chart.
#[derive(Clone, Debug)]
pub struct Report {
    pub kind: Kind,
    pub range: Range,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    pub totals: Option<Vec<Cell>>,
    pub bars: Vec<Bar>,
    /// Whether the bars are money (minor units) or counts.
    pub money_bars: bool,
    /// The message key of what the darker part of a bar is.
    pub part_label: Option<&'static str>,
    pub currency: Currency,
    pub tz: Tz,
}

/// The most bars a chart draws (the largest, or the last days).
pub const MAX_BARS: usize = 31;

/// Every day from `from` to `to`, for a by-day report that shows empty days too.
pub fn days(r: &Range) -> impl Iterator<Item = NaiveDate> + use<> {
    let (from, to) = (r.from, r.to);
    from.iter_days().take_while(move |d| *d <= to)
}

impl Report {
    /// Whether its bars are days, drawn as columns in date order (rather than the largest
    /// categories as horizontal bars).
    pub fn bars_are_days(&self) -> bool {
        matches!(
            (self.kind, self.range.by),
            (Kind::Revenue | Kind::Appointments, Some(Group::Day))
                | (Kind::SalesRegister | Kind::Cancellations, _)
        )
    }

    /// Its chart, each bar's figure written by `value`.
    pub fn chart(&self, value: impl Fn(i64) -> String) -> Chart {
        chart(&self.bars, self.bars_are_days(), value)
    }

    /// The CSV file: a header row of the columns' headings, the rows, the totals; a cell a
    /// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is written with a
    /// leading `'`. `t` gives the interface's words.
    pub fn csv(&self, t: &dyn Fn(&str) -> String) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        w.write_record(self.columns.iter().map(|c| t(c.key)))?;
        for r in self.rows.iter().chain(self.totals.iter()) {
            w.write_record(r.iter().map(|c| match c {
                Cell::Text(s) => guard_formula(s),
                other => other.plain(self.tz, t),
            }))?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }

    /// Its file name: `revenue-2026-03-01-to-2026-03-31.csv`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-to-{}.csv",
            self.kind.slug(),
            self.range.from,
            self.range.to
        )
    }
}

fn guard_formula(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

/// A chart as boxes to draw: the page's SVG is these rectangles and labels, nothing more.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub bars: Vec<Drawn>,
    /// Horizontal bars (categories, labels at the left) or columns (days, labels below).
    pub horizontal: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    pub label: String,
    pub value: String,
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    /// The darker part: x, y, w, h.
    pub part: Option<(i64, i64, i64, i64)>,
    /// Where the label and the value are written.
    pub label_x: i64,
    pub label_y: i64,
    pub value_x: i64,
    pub value_y: i64,
    /// Whether this column's label is written (every one of up to 16 columns, then every
    /// few).
    pub show_label: bool,
}

/// Lays `bars` out: horizontal bars of the largest categories, or one column per day (the
/// last [`MAX_BARS`] of them). `value` writes a bar's figure.
pub fn chart(bars: &[Bar], columns: bool, value: impl Fn(i64) -> String) -> Chart {
    let bars: Vec<&Bar> = if columns {
        bars.iter()
            .skip(bars.len().saturating_sub(MAX_BARS))
            .collect()
    } else {
        bars.iter().take(MAX_BARS.min(15)).collect()
    };
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    if columns {
        let (left, bottom, top, plot_h) = (8, 28, 18, 180);
        let step = (760 / bars.len().max(1) as i64).clamp(12, 60);
        let w = (step * 3 / 4).max(8);
        let every = (bars.len() as i64 / 16).max(1) as usize;
        let drawn = bars
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let h = (b.value.max(0) * plot_h / max).max(i64::from(b.value > 0));
                let x = left + i as i64 * step;
                let y = top + plot_h - h;
                let part = b.part.map(|p| {
                    let ph = (p.clamp(0, b.value.max(0)) * plot_h / max).min(h);
                    (x, top + plot_h - ph, w, ph)
                });
                Drawn {
                    label: b.label.clone(),
                    value: value(b.value),
                    x,
                    y,
                    w,
                    h,
                    part,
                    label_x: x + w / 2,
                    label_y: top + plot_h + 16,
                    value_x: x + w / 2,
                    value_y: y - 4,
                    show_label: i % every == 0,
                }
            })
            .collect();
        Chart {
            width: left * 2 + step * bars.len().max(1) as i64,
            height: top + plot_h + bottom,
            bars: drawn,
            horizontal: false,
        }
    } else {
        let (label_w, row, bar_h, plot_w) = (220, 26, 18, 420);
        let drawn = bars
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let w = (b.value.max(0) * plot_w / max).max(i64::from(b.value > 0));
                let y = 4 + i as i64 * row;
                let part = b.part.map(|p| {
                    let pw = (p.clamp(0, b.value.max(0)) * plot_w / max).min(w);
                    (label_w, y, pw, bar_h)
                });
                Drawn {
                    label: crate::i18n::shorten(&b.label, 32),
                    value: value(b.value),
                    x: label_w,
                    y,
                    w,
                    h: bar_h,
                    part,
                    label_x: label_w - 8,
                    label_y: y + 13,
                    value_x: label_w + w + 6,
                    value_y: y + 13,
                    show_label: true,
                }
            })
            .collect();
        Chart {
            width: label_w + plot_w + 140,
            height: 8 + row * bars.len().max(1) as i64,
            bars: drawn,
            horizontal: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn req(from: &str, to: &str, fy: &str, by: &str) -> Request {
        let o = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Request {
            from: o(from),
            to: o(to),
            fy: o(fy),
            by: o(by),
        }
    }

    #[test]
    fn ranges_are_checked_by_field() {
        let today = d(2026, 3, 14);
        let f = FiscalStart::Shrawan;
        let r = req("", "", "", "").check(Kind::Revenue, today, f).unwrap();
        assert_eq!(
            (r.from, r.to, r.by),
            (d(2026, 3, 1), today, Some(Group::Service))
        );
        let r = req("", "", "2025/26", "day")
            .check(Kind::Revenue, today, f)
            .unwrap();
        assert_eq!(
            (r.from, r.to, r.by),
            (d(2025, 7, 16), d(2026, 7, 15), Some(Group::Day))
        );
        let e = req("2026-13-01", "", "", "")
            .check(Kind::Revenue, today, f)
            .unwrap_err();
        assert_eq!(e.get("from").unwrap(), "invalid.report_date");
        let e = req("2026-03-10", "2026-03-01", "", "")
            .check(Kind::Revenue, today, f)
            .unwrap_err();
        assert_eq!(e.get("to").unwrap(), "invalid.report_range");
        let e = req("2020-01-01", "2026-01-01", "", "")
            .check(Kind::Revenue, today, f)
            .unwrap_err();
        assert_eq!(e.get("to").unwrap(), "invalid.report_range_long");
        let e = req("", "", "2026/99", "service")
            .check(Kind::Appointments, today, f)
            .unwrap_err();
        assert_eq!(e.get("fy").unwrap(), "invalid.fiscal_year");
        assert_eq!(e.get("by").unwrap(), "invalid.report_group");
        let r = req("", "", "", "")
            .check(Kind::SalesRegister, today, f)
            .unwrap();
        assert_eq!(r.by, None);
    }

    #[test]
    fn fiscal_years_as_named() {
        assert_eq!(
            fiscal_year_days(FiscalStart::April, "2026/27"),
            Some((d(2026, 4, 1), d(2027, 3, 31)))
        );
        assert_eq!(
            fiscal_year_days(FiscalStart::January, "2026"),
            Some((d(2026, 1, 1), d(2026, 12, 31)))
        );
        assert_eq!(fiscal_year_days(FiscalStart::January, "2026/27"), None);
        assert_eq!(fiscal_year_days(FiscalStart::Shrawan, "x"), None);
    }

    #[test]
    fn shares_and_percentages() {
        assert_eq!(share(1, 8), Some(1250));
        assert_eq!(share(2, 3), Some(6667));
        assert_eq!(share(0, 0), None);
        assert_eq!(percent(1250), "12.5 %");
        assert_eq!(percent(6667), "66.7 %");
        assert_eq!(percent(10_000), "100.0 %");
    }

    #[test]
    fn csv_quotes_and_disarms_formulas() {
        let r = Report {
            kind: Kind::Revenue,
            range: Range {
                from: d(2026, 3, 1),
                to: d(2026, 3, 31),
                by: None,
            },
            columns: vec![col("a", ColumnKind::Text), col("b", ColumnKind::Money)],
            rows: vec![
                vec![Cell::Text("=HYPERLINK(\"x\")".into()), Cell::Money(-1250)],
                vec![Cell::Text("Sharma, R\nline".into()), Cell::Money(5)],
            ],
            totals: Some(vec![Cell::Label("k", Some(2)), Cell::Money(-1245)]),
            bars: vec![],
            money_bars: true,
            part_label: None,
            currency: Currency::default_currency(),
            tz: Tz::UTC,
        };
        assert_eq!(
            String::from_utf8(r.csv(&|k| format!("{}{{n}}", k.to_uppercase())).unwrap()).unwrap(),
            "A{n},B{n}\r\n\"'=HYPERLINK(\"\"x\"\")\",-12.50\r\n\"Sharma, R\nline\",0.05\r\nK2,-12.45\r\n"
        );
        assert_eq!(r.file_name(), "revenue-2026-03-01-to-2026-03-31.csv");
    }

    #[test]
    fn charts_scale_to_the_largest_bar() {
        let bars: Vec<Bar> = (1..=40)
            .map(|i| Bar {
                label: format!("d{i}"),
                value: i * 10,
                part: Some(i),
            })
            .collect();
        let c = chart(&bars, true, |v| v.to_string());
        assert_eq!(c.bars.len(), MAX_BARS);
        assert_eq!(c.bars.last().unwrap().label, "d40");
        let tallest = c.bars.iter().map(|b| b.h).max().unwrap();
        assert_eq!(tallest, 180);
        assert!(c.bars.iter().all(|b| b.part.unwrap().3 <= b.h));
        let c = chart(&bars[..3], false, |v| v.to_string());
        assert_eq!(
            c.bars.iter().map(|b| b.w).collect::<Vec<_>>(),
            vec![140, 280, 420]
        );
        let empty = chart(&[], false, |v| v.to_string());
        assert!(empty.bars.is_empty() && empty.height > 0);
    }
}
