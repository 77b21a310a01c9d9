//! The reports' queries. Each returns its rows as cells in its columns' order, its totals
//! and its chart's bars; days are the clinic's (`tz`), instants are `[from, to)`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::model::{Bar, Cell, Column, ColumnKind::*, col, share};

/// A query's answer.
pub struct Parts {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    pub totals: Option<Vec<Cell>>,
    pub bars: Vec<Bar>,
}

/// The instants a query reads and the clinic's zone name.
pub struct Span<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub tz: &'a str,
    /// Every day of the range, for by-day reports that show empty days too.
    pub days: Vec<NaiveDate>,
    /// Rows a listing report returns (`None`: all).
    pub limit: Option<i64>,
}

/// The totals row of grouped rows: "Total", then the sum of each money and count column
/// from column `skip` on.
fn money_totals(rows: &[Vec<Cell>], skip: usize) -> Vec<Cell> {
    let width = rows.first().map_or(0, Vec::len);
    let mut t = vec![TOTAL];
    t.extend((1..skip).map(|_| Cell::Empty));
    for i in skip..width {
        t.push(match rows.first().map(|r| &r[i]) {
            Some(Cell::Money(_)) => Cell::Money(
                rows.iter()
                    .map(|r| if let Cell::Money(m) = r[i] { m } else { 0 })
                    .sum(),
            ),
            Some(Cell::Count(_)) => Cell::Count(
                rows.iter()
                    .map(|r| if let Cell::Count(m) = r[i] { m } else { 0 })
                    .sum(),
            ),
            _ => Cell::Empty,
        });
    }
    t
}

const NO_CLINICIAN: Cell = Cell::Label("reports.no_clinician", None);
const TOTAL: Cell = Cell::Label("reports.total", None);

/// Revenue by service: what was billed of each (the price list's entry, or each typed line).
pub async fn revenue_by_service(conn: &mut PgConnection, s: &Span<'_>) -> sqlx::Result<Parts> {
    let rows = sqlx::query!(
        r#"SELECT coalesce(sv.code, min(l.code)) AS "code!", coalesce(sv.name, min(l.description)) AS "name!",
                  sum(l.quantity)::bigint AS "quantity!", sum(l.net)::bigint AS "net!",
                  sum(l.tax)::bigint AS "tax!", sum(l.total)::bigint AS "total!"
             FROM revenue_lines l LEFT JOIN services sv ON sv.id = l.service_id
            WHERE l.issued_at >= $1 AND l.issued_at < $2
            GROUP BY l.service_id, sv.code, sv.name,
                     CASE WHEN l.service_id IS NULL THEN l.description END
            ORDER BY 6 DESC, 2"#,
        s.from,
        s.to
    )
    .fetch_all(conn)
    .await?;
    let bars = rows
        .iter()
        .map(|r| Bar {
            label: r.name.clone(),
            value: r.total,
            part: None,
        })
        .collect();
    let rows: Vec<Vec<Cell>> = rows
        .into_iter()
        .map(|r| {
            vec![
                Cell::Text(r.code),
                Cell::Text(r.name),
                Cell::Count(r.quantity),
                Cell::Money(r.net),
                Cell::Money(r.tax),
                Cell::Money(r.total),
            ]
        })
        .collect();
    Ok(Parts {
        columns: vec![
            col("reports.code", Text),
            col("reports.service", Text),
            col("reports.quantity", Count),
            col("reports.net", Money),
            col("reports.tax", Money),
            col("reports.total", Money),
        ],
        totals: (!rows.is_empty()).then(|| money_totals(&rows, 2)),
        rows,
        bars,
    })
}

/// Revenue by the clinician who provided each line (a visit's clinician).
pub async fn revenue_by_clinician(conn: &mut PgConnection, s: &Span<'_>) -> sqlx::Result<Parts> {
    let rows = sqlx::query!(
        r#"SELECT u.display_name AS "name?",
                  count(DISTINCT l.invoice_id) FILTER (WHERE l.kind = 'invoice') AS "invoices!",
                  sum(l.net)::bigint AS "net!", sum(l.tax)::bigint AS "tax!",
                  sum(l.total)::bigint AS "total!"
             FROM revenue_lines l LEFT JOIN users u ON u.id = l.clinician_id
            WHERE l.issued_at >= $1 AND l.issued_at < $2
            GROUP BY l.clinician_id, u.display_name
            ORDER BY 5 DESC, 1"#,
        s.from,
        s.to
    )
    .fetch_all(conn)
    .await?;
    let bars = rows
        .iter()
        .map(|r| Bar {
            label: r.name.clone().unwrap_or_else(|| "—".to_owned()),
            value: r.total,
            part: None,
        })
        .collect();
    let rows: Vec<Vec<Cell>> = rows
        .into_iter()
        .map(|r| {
            vec![
                r.name.map_or(NO_CLINICIAN, Cell::Text),
                Cell::Count(r.invoices),
                Cell::Money(r.net),
                Cell::Money(r.tax),
                Cell::Money(r.total),
            ]
        })
        .collect();
    Ok(Parts {
        columns: vec![
            col("reports.clinician", Text),
            col("reports.invoices", Count),
            col("reports.net", Money),
            col("reports.tax", Money),
            col("reports.total", Money),
        ],
        totals: (!rows.is_empty()).then(|| money_totals(&rows, 1)),
        rows,
        bars,
    })
}

/// Revenue by day, every day of the range (an empty day shows nothing billed).
pub async fn revenue_by_day(conn: &mut PgConnection, s: &Span<'_>) -> sqlx::Result<Parts> {
    let found = sqlx::query!(
        r#"SELECT (l.issued_at AT TIME ZONE $3)::date AS "day!",
                  count(DISTINCT l.invoice_id) FILTER (WHERE l.kind = 'invoice') AS "invoices!",
                  sum(l.net)::bigint AS "net!", sum(l.tax)::bigint AS "tax!",
                  sum(l.total)::bigint AS "total!"
             FROM revenue_lines l
            WHERE l.issued_at >= $1 AND l.issued_at < $2
            GROUP BY 1"#,
        s.from,
        s.to,
        s.tz
    )
    .fetch_all(conn)
    .await?;
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for d in &s.days {
        let r = found.iter().find(|r| r.day == *d);
        let (n, net, tax, total) = r.map_or((0, 0, 0, 0), |r| (r.invoices, r.net, r.tax, r.total));
        bars.push(Bar {
            label: d.format("%d %b").to_string(),
            value: total,
            part: None,
        });
        rows.push(vec![
            Cell::Date(*d),
            Cell::Count(n),
            Cell::Money(net),
            Cell::Money(tax),
            Cell::Money(total),
        ]);
    }
    Ok(Parts {
        columns: vec![
            col("reports.day", Date),
            col("reports.invoices", Count),
            col("reports.net", Money),
            col("reports.tax", Money),
            col("reports.total", Money),
        ],
        totals: (!rows.is_empty()).then(|| money_totals(&rows, 1)),
        rows,
        bars,
    })
}

/// Sums of documents by day, for the register's and the cancellations' charts.
fn day_bars(days: &[NaiveDate], found: &[(NaiveDate, i64)]) -> Vec<Bar> {
    days.iter()
        .map(|d| Bar {
            label: d.format("%d %b").to_string(),
            value: found.iter().filter(|(x, _)| x == d).map(|(_, v)| v).sum(),
            part: None,
        })
        .collect()
}

/// The sales register: every invoice and credit note numbered in the range, in number
/// order, cancelled ones included (marked, and left out of the totals); a credit note's
/// figures count against the totals.
pub async fn sales_register(conn: &mut PgConnection, s: &Span<'_>) -> sqlx::Result<Parts> {
    let rows = sqlx::query!(
        r#"SELECT i.number AS "number!", i.issued_at AS "issued_at!", i.kind, i.status,
                  p.given_name || ' ' || p.family_name AS "patient!", p.mrn,
                  i.net AS "net!", i.tax AS "tax!", i.total AS "total!",
                  c.number AS "credits?"
             FROM invoices i JOIN patients p ON p.id = i.patient_id
             LEFT JOIN invoices c ON c.id = i.credits_id
            WHERE i.issued_at >= $1 AND i.issued_at < $2
            ORDER BY i.issued_at, i.kind, i.seq
            LIMIT $3"#,
        s.from,
        s.to,
        s.limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let t = sqlx::query!(
        r#"SELECT count(*) AS "documents!",
                  coalesce(sum(CASE WHEN kind = 'credit_note' THEN -net ELSE net END)
                      FILTER (WHERE status = 'issued'), 0)::bigint AS "net!",
                  coalesce(sum(CASE WHEN kind = 'credit_note' THEN -tax ELSE tax END)
                      FILTER (WHERE status = 'issued'), 0)::bigint AS "tax!",
                  coalesce(sum(CASE WHEN kind = 'credit_note' THEN -total ELSE total END)
                      FILTER (WHERE status = 'issued'), 0)::bigint AS "total!"
             FROM invoices WHERE issued_at >= $1 AND issued_at < $2"#,
        s.from,
        s.to
    )
    .fetch_one(&mut *conn)
    .await?;
    let by_day = sqlx::query!(
        r#"SELECT (issued_at AT TIME ZONE $3)::date AS "day!",
                  sum(CASE WHEN kind = 'credit_note' THEN -total ELSE total END)::bigint AS "total!"
             FROM invoices WHERE issued_at >= $1 AND issued_at < $2 AND status = 'issued'
            GROUP BY 1"#,
        s.from,
        s.to,
        s.tz
    )
    .fetch_all(conn)
    .await?;
    let by_day: Vec<(NaiveDate, i64)> = by_day.into_iter().map(|r| (r.day, r.total)).collect();
    let rows = rows
        .into_iter()
        .map(|r| {
            let sign = if r.kind == "credit_note" { -1 } else { 1 };
            let kind = match (r.kind.as_str(), r.status.as_str()) {
                ("credit_note", _) => "reports.doc_credit_note",
                (_, "cancelled") => "reports.doc_cancelled",
                _ => "reports.doc_invoice",
            };
            vec![
                Cell::Text(r.number),
                Cell::Time(r.issued_at),
                Cell::Label(kind, None),
                r.credits.map_or(Cell::Empty, Cell::Text),
                Cell::Text(r.patient),
                Cell::Text(r.mrn),
                Cell::Money(sign * r.net),
                Cell::Money(sign * r.tax),
                Cell::Money(sign * r.total),
            ]
        })
        .collect();
    Ok(Parts {
        columns: vec![
            col("reports.number", Text),
            col("reports.issued", Time),
            col("reports.document", Text),
            col("reports.credits", Text),
            col("reports.patient", Text),
            col("reports.mrn", Text),
            col("reports.net", Money),
            col("reports.tax", Money),
            col("reports.total", Money),
        ],
        rows,
        totals: Some(vec![
            Cell::Label("reports.total_documents", Some(t.documents)),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Money(t.net),
            Cell::Money(t.tax),
            Cell::Money(t.total),
        ]),
        bars: day_bars(&s.days, &by_day),
    })
}

/// Invoices cancelled in the range: when, by whom, why.
pub async fn cancellations(conn: &mut PgConnection, s: &Span<'_>) -> sqlx::Result<Parts> {
    let rows = sqlx::query!(
        r#"SELECT i.number AS "number!", i.issued_at AS "issued_at!", i.cancelled_at AS "cancelled_at!",
                  u.display_name AS "by?", p.given_name || ' ' || p.family_name AS "patient!", p.mrn,
                  i.total AS "total!", i.cancel_reason AS "reason!",
                  (i.cancelled_at AT TIME ZONE $3)::date AS "day!"
             FROM invoices i JOIN patients p ON p.id = i.patient_id
             LEFT JOIN users u ON u.id = i.cancelled_by
            WHERE i.cancelled_at >= $1 AND i.cancelled_at < $2
            ORDER BY i.cancelled_at, i.seq
            LIMIT $4"#,
        s.from,
        s.to,
        s.tz,
        s.limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let t = sqlx::query!(
        r#"SELECT count(*) AS "n!", coalesce(sum(total), 0)::bigint AS "total!"
             FROM invoices WHERE cancelled_at >= $1 AND cancelled_at < $2"#,
        s.from,
        s.to
    )
    .fetch_one(&mut *conn)
    .await?;
    let by_day: Vec<(NaiveDate, i64)> = rows.iter().map(|r| (r.day, r.total)).collect();
    let bars = day_bars(&s.days, &by_day);
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                Cell::Text(r.number),
                Cell::Time(r.issued_at),
                Cell::Time(r.cancelled_at),
                Cell::Text(r.by.unwrap_or_default()),
                Cell::Text(r.patient),
                Cell::Text(r.mrn),
                Cell::Money(r.total),
                Cell::Text(r.reason),
            ]
        })
        .collect();
    Ok(Parts {
        columns: vec![
            col("reports.number", Text),
            col("reports.issued", Time),
            col("reports.cancelled", Time),
            col("reports.cancelled_by", Text),
            col("reports.patient", Text),
            col("reports.mrn", Text),
            col("reports.total", Money),
            col("reports.reason", Text),
        ],
        rows,
        totals: Some(vec![
            Cell::Label("reports.total_cancelled", Some(t.n)),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Money(t.total),
            Cell::Empty,
        ]),
        bars,
    })
}

/// One group of appointments: booked (not cancelled), seen, no-shows, cancelled.
struct Attendance {
    label: Cell,
    bar: String,
    booked: i64,
    completed: i64,
    no_show: i64,
    cancelled: i64,
    walk_in: i64,
}

fn attendance_parts(first: Column, groups: Vec<Attendance>) -> Parts {
    let bars = groups
        .iter()
        .map(|g| Bar {
            label: g.bar.clone(),
            value: g.booked,
            part: Some(g.no_show),
        })
        .collect();
    let sum = |f: fn(&Attendance) -> i64| groups.iter().map(f).sum::<i64>();
    let totals = (!groups.is_empty()).then(|| {
        let (booked, no_show) = (sum(|g| g.booked), sum(|g| g.no_show));
        vec![
            TOTAL,
            Cell::Count(booked),
            Cell::Count(sum(|g| g.completed)),
            Cell::Count(no_show),
            Cell::Count(sum(|g| g.cancelled)),
            Cell::Count(sum(|g| g.walk_in)),
            Cell::Percent(share(no_show, booked)),
        ]
    });
    let rows = groups
        .into_iter()
        .map(|g| {
            vec![
                g.label,
                Cell::Count(g.booked),
                Cell::Count(g.completed),
                Cell::Count(g.no_show),
                Cell::Count(g.cancelled),
                Cell::Count(g.walk_in),
                Cell::Percent(share(g.no_show, g.booked)),
            ]
        })
        .collect();
    Parts {
        columns: vec![
            first,
            col("reports.booked", Count),
            col("reports.completed", Count),
            col("reports.no_shows", Count),
            col("reports.cancelled_count", Count),
            col("reports.walk_ins", Count),
            col("reports.no_show_rate", Percent),
        ],
        rows,
        totals,
        bars,
    }
}

/// Appointments of each day of the range. The no-show rate is no-shows over the
/// appointments that were not cancelled.
pub async fn appointments_by_day(conn: &mut PgConnection, s: &Span<'_>) -> sqlx::Result<Parts> {
    let found = sqlx::query!(
        r#"SELECT (starts_at AT TIME ZONE $3)::date AS "day!",
                  count(*) FILTER (WHERE status <> 'cancelled') AS "booked!",
                  count(*) FILTER (WHERE status = 'completed') AS "completed!",
                  count(*) FILTER (WHERE status = 'no_show') AS "no_show!",
                  count(*) FILTER (WHERE status = 'cancelled') AS "cancelled!",
                  count(*) FILTER (WHERE walk_in AND status <> 'cancelled') AS "walk_in!"
             FROM appointments WHERE starts_at >= $1 AND starts_at < $2
            GROUP BY 1"#,
        s.from,
        s.to,
        s.tz
    )
    .fetch_all(conn)
    .await?;
    let groups = s
        .days
        .iter()
        .map(|d| {
            let r = found.iter().find(|r| r.day == *d);
            let n = |f: fn(&_) -> i64| r.map_or(0, f);
            Attendance {
                label: Cell::Date(*d),
                bar: d.format("%d %b").to_string(),
                booked: n(|r| r.booked),
                completed: n(|r| r.completed),
                no_show: n(|r| r.no_show),
                cancelled: n(|r| r.cancelled),
                walk_in: n(|r| r.walk_in),
            }
        })
        .collect();
    Ok(attendance_parts(col("reports.day", Date), groups))
}

/// Appointments of the range by clinician (walk-ins nobody took yet: "—").
pub async fn appointments_by_clinician(
    conn: &mut PgConnection,
    s: &Span<'_>,
) -> sqlx::Result<Parts> {
    let found = sqlx::query!(
        r#"SELECT u.display_name AS "name?",
                  count(*) FILTER (WHERE a.status <> 'cancelled') AS "booked!",
                  count(*) FILTER (WHERE a.status = 'completed') AS "completed!",
                  count(*) FILTER (WHERE a.status = 'no_show') AS "no_show!",
                  count(*) FILTER (WHERE a.status = 'cancelled') AS "cancelled!",
                  count(*) FILTER (WHERE a.walk_in AND a.status <> 'cancelled') AS "walk_in!"
             FROM appointments a LEFT JOIN users u ON u.id = a.provider_id
            WHERE a.starts_at >= $1 AND a.starts_at < $2
            GROUP BY a.provider_id, u.display_name
            ORDER BY 2 DESC, 1"#,
        s.from,
        s.to
    )
    .fetch_all(conn)
    .await?;
    let groups = found
        .into_iter()
        .map(|r| Attendance {
            bar: r.name.clone().unwrap_or_else(|| "—".to_owned()),
            label: r.name.map_or(NO_CLINICIAN, Cell::Text),
            booked: r.booked,
            completed: r.completed,
            no_show: r.no_show,
            cancelled: r.cancelled,
            walk_in: r.walk_in,
        })
        .collect();
    Ok(attendance_parts(col("reports.clinician", Text), groups))
}

/// Signed visits of the range by diagnosis (a coded one by its code, a free-text one by its
/// words), most frequent first.
pub async fn diagnoses(conn: &mut PgConnection, s: &Span<'_>) -> sqlx::Result<Parts> {
    let rows = sqlx::query!(
        r#"SELECT coalesce(d.code, '') AS "code!", min(d.title) AS "title!",
                  count(DISTINCT d.visit_id) AS "visits!", count(DISTINCT v.patient_id) AS "patients!",
                  count(DISTINCT d.visit_id) FILTER (WHERE d.is_primary) AS "primary!"
             FROM visit_diagnoses d JOIN visits v ON v.id = d.visit_id
            WHERE v.signed_at IS NOT NULL AND v.started_at >= $1 AND v.started_at < $2
            GROUP BY d.code_system, d.code, CASE WHEN d.code IS NULL THEN lower(d.title) END
            ORDER BY 3 DESC, 2
            LIMIT $3"#,
        s.from,
        s.to,
        s.limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let t = sqlx::query!(
        r#"SELECT count(*) AS "visits!", count(DISTINCT patient_id) AS "patients!"
             FROM visits WHERE signed_at IS NOT NULL AND started_at >= $1 AND started_at < $2"#,
        s.from,
        s.to
    )
    .fetch_one(conn)
    .await?;
    let bars = rows
        .iter()
        .map(|r| Bar {
            label: r.title.clone(),
            value: r.visits,
            part: None,
        })
        .collect();
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                Cell::Text(r.code),
                Cell::Text(r.title),
                Cell::Count(r.visits),
                Cell::Count(r.primary),
                Cell::Count(r.patients),
                Cell::Percent(share(r.visits, t.visits)),
            ]
        })
        .collect();
    Ok(Parts {
        columns: vec![
            col("reports.code", Text),
            col("reports.diagnosis", Text),
            col("reports.visits", Count),
            col("reports.primary", Count),
            col("reports.patients", Count),
            col("reports.share_of_visits", Percent),
        ],
        rows,
        totals: Some(vec![
            Cell::Label("reports.signed_visits", None),
            Cell::Empty,
            Cell::Count(t.visits),
            Cell::Empty,
            Cell::Count(t.patients),
            Cell::Empty,
        ]),
        bars,
    })
}
