//! Money: amounts in the clinic currency's minor units (paisa, cents) as `i64`, never floats.
//!
//! The one rounding rule (docs/billing.md): prices are before tax; a line's amount is its unit
//! price times its quantity, less the line's discount and its share of the invoice's discount;
//! its tax is that amount times the tax rate, rounded to the nearest minor unit with halves
//! rounded up; the invoice's total is the sum of its lines' rounded amounts and taxes. An
//! invoice discount is shared between the lines in proportion to their amounts, the minor
//! units left over going to the lines with the largest remainders (the earlier line on a tie),
//! so that the shares add up to the discount exactly.

use serde::Serialize;

/// The largest amount of one line or invoice: 10¹² minor units (ten thousand million rupees).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// Tax rates are in basis points: 1300 is 13 %.
pub const MAX_TAX_BP: i32 = 10_000;

/// A line as priced, before any arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineIn {
    pub unit_price: i64,
    pub quantity: i32,
    pub tax_bp: i32,
    /// The line's own discount, in minor units.
    pub discount: i64,
}

/// A line's figures, as an invoice prints and stores them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LineTotals {
    /// Unit price × quantity.
    pub gross: i64,
    /// The line's discount plus its share of the invoice's discount.
    pub discount: i64,
    /// Gross less discount: what tax is charged on.
    pub net: i64,
    pub tax: i64,
    /// Net plus tax.
    pub total: i64,
}

/// An invoice's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub lines: Vec<LineTotals>,
    pub gross: i64,
    pub discount: i64,
    pub net: i64,
    pub tax: i64,
    pub total: i64,
}

/// Why figures cannot be computed: the message key to show next to the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoneyError {
    /// A line's discount is more than its amount (line index).
    LineDiscount(usize),
    /// The invoice's discount is more than the lines' amounts after their discounts.
    InvoiceDiscount,
    /// An amount, quantity or rate out of range (line index).
    OutOfRange(usize),
    /// The invoice's total passes [`MAX_AMOUNT`].
    TooLarge,
}

/// Tax on `net` at `bp` basis points, halves rounded up.
pub fn tax(net: i64, bp: i32) -> i64 {
    let n = i128::from(net) * i128::from(bp);
    // net ≥ 0 and bp ≥ 0: adding half the divisor rounds halves up.
    ((n + 5_000) / 10_000) as i64
}

/// `amount × pct / 100`, halves rounded up: a discount given as a percentage.
pub fn percent_of(amount: i64, pct_bp: i32) -> i64 {
    tax(amount, pct_bp)
}

/// Shares `total` between `weights` in proportion, each share rounded down, the remainder one
/// unit each to the largest remainders (earlier first on a tie). The shares add up to `total`
/// whenever some weight is positive, and none is more than its weight when the weights add up
/// to at least `total`.
pub fn share(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if sum <= 0 || total == 0 {
        return vec![0; weights.len()];
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut rems = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let x = i128::from(total) * i128::from(*w);
        shares.push((x / sum) as i64);
        rems.push((x % sum, i));
    }
    let mut left = total - shares.iter().sum::<i64>();
    // Largest remainder first; on equal remainders the earlier line.
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left == 0 {
            break;
        }
        if weights[i] > 0 {
            shares[i] += 1;
            left -= 1;
        }
    }
    shares
}

/// The figures of `lines` with `invoice_discount` shared between them (the rule above).
pub fn totals(lines: &[LineIn], invoice_discount: i64) -> Result<Totals, MoneyError> {
    let mut after_line = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        if !(0..=MAX_AMOUNT).contains(&l.unit_price)
            || !(1..=100_000).contains(&l.quantity)
            || !(0..=MAX_TAX_BP).contains(&l.tax_bp)
            || l.discount < 0
        {
            return Err(MoneyError::OutOfRange(i));
        }
        let gross = l
            .unit_price
            .checked_mul(i64::from(l.quantity))
            .filter(|g| *g <= MAX_AMOUNT)
            .ok_or(MoneyError::TooLarge)?;
        if l.discount > gross {
            return Err(MoneyError::LineDiscount(i));
        }
        after_line.push((gross, gross - l.discount));
    }
    let base: i64 = after_line.iter().map(|(_, n)| n).sum();
    if invoice_discount < 0 || invoice_discount > base {
        return Err(MoneyError::InvoiceDiscount);
    }
    let weights: Vec<i64> = after_line.iter().map(|(_, n)| *n).collect();
    let shares = share(invoice_discount, &weights);
    let mut t = Totals::default();
    for ((l, (gross, after)), s) in lines.iter().zip(&after_line).zip(&shares) {
        let net = after - s;
        let tax = tax(net, l.tax_bp);
        let lt = LineTotals {
            gross: *gross,
            discount: gross - net,
            net,
            tax,
            total: net + tax,
        };
        t.gross += lt.gross;
        t.discount += lt.discount;
        t.net += lt.net;
        t.tax += lt.tax;
        t.total += lt.total;
        t.lines.push(lt);
    }
    if t.total > MAX_AMOUNT {
        return Err(MoneyError::TooLarge);
    }
    Ok(t)
}

/// A currency the clinic bills in: its code, symbol, words and digit grouping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Currency {
    pub code: &'static str,
    pub symbol: &'static str,
    /// The major and minor unit in words ("Rupees", "Paisa").
    pub major: &'static str,
    pub minor: &'static str,
    /// Lakh and crore (1,00,000) rather than thousands (100,000).
    pub indian: bool,
}

pub const CURRENCIES: &[Currency] = &[
    Currency {
        code: "NPR",
        symbol: "Rs.",
        major: "Rupees",
        minor: "Paisa",
        indian: true,
    },
    Currency {
        code: "INR",
        symbol: "₹",
        major: "Rupees",
        minor: "Paise",
        indian: true,
    },
    Currency {
        code: "USD",
        symbol: "$",
        major: "Dollars",
        minor: "Cents",
        indian: false,
    },
    Currency {
        code: "EUR",
        symbol: "€",
        major: "Euros",
        minor: "Cents",
        indian: false,
    },
    Currency {
        code: "GBP",
        symbol: "£",
        major: "Pounds",
        minor: "Pence",
        indian: false,
    },
];

impl Currency {
    pub fn of(code: &str) -> Option<Currency> {
        CURRENCIES.iter().copied().find(|c| c.code == code)
    }

    /// The default: Nepalese rupees.
    pub fn default_currency() -> Currency {
        CURRENCIES[0]
    }

    /// `1,23,456.78` (or `123,456.78`), a minus sign in front of a negative amount.
    pub fn number(&self, minor: i64) -> String {
        let neg = minor < 0;
        let m = minor.unsigned_abs();
        let (major, frac) = (m / 100, m % 100);
        let digits = major.to_string();
        let grouped = group(&digits, self.indian);
        format!("{}{grouped}.{frac:02}", if neg { "-" } else { "" })
    }

    /// `Rs. 1,23,456.78`.
    pub fn format(&self, minor: i64) -> String {
        format!("{} {}", self.symbol, self.number(minor))
    }

    /// "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Seventy-Eight Paisa
    /// Only": the amount in words that an invoice and a receipt print.
    pub fn words(&self, minor: i64) -> String {
        let m = minor.unsigned_abs();
        let (major, frac) = (m / 100, m % 100);
        let mut s = String::from(self.major);
        s.push(' ');
        s.push_str(&if self.indian {
            words_indian(major)
        } else {
            words_western(major)
        });
        if frac > 0 {
            s.push_str(" and ");
            s.push_str(&below_100(frac));
            s.push(' ');
            s.push_str(self.minor);
        }
        s.push_str(" Only");
        if minor < 0 {
            s.insert_str(0, "Minus ");
        }
        s
    }
}

/// Digits grouped by commas: threes, or (Indian) the last three then twos.
fn group(digits: &str, indian: bool) -> String {
    let b = digits.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + b.len() / 2);
    let n = b.len();
    for (i, c) in b.iter().enumerate() {
        let from_end = n - i;
        if i > 0 {
            let comma = if indian {
                from_end == 3 || (from_end > 3 && (from_end - 3).is_multiple_of(2))
            } else {
                from_end.is_multiple_of(3)
            };
            if comma {
                out.push(b',');
            }
        }
        out.push(*c);
    }
    String::from_utf8(out).unwrap_or_default()
}

const ONES: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const TENS: [&str; 10] = [
    "", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety",
];

fn below_100(n: u64) -> String {
    let n = n as usize;
    if n < 20 {
        ONES[n].to_owned()
    } else if n.is_multiple_of(10) {
        TENS[n / 10].to_owned()
    } else {
        format!("{}-{}", TENS[n / 10], ONES[n % 10])
    }
}

fn below_1000(n: u64) -> String {
    match (n / 100, n % 100) {
        (0, r) => below_100(r),
        (h, 0) => format!("{} Hundred", ONES[h as usize]),
        (h, r) => format!("{} Hundred {}", ONES[h as usize], below_100(r)),
    }
}

/// Words with `scales` (largest first: divisor and name) over a final group below 1,000.
fn words_by(n: u64, scales: &[(u64, &str)], again: fn(u64) -> String) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    let mut parts = Vec::new();
    let mut rest = n;
    for (div, name) in scales {
        let q = rest / div;
        if q > 0 {
            parts.push(format!("{} {name}", again(q)));
            rest %= div;
        }
    }
    if rest > 0 {
        parts.push(below_1000(rest));
    }
    parts.join(" ")
}

fn words_indian(n: u64) -> String {
    // Above a hundred crore the count of crores is itself said in lakhs and thousands.
    words_by(
        n,
        &[
            (10_000_000, "Crore"),
            (100_000, "Lakh"),
            (1_000, "Thousand"),
        ],
        |q| {
            if q < 1_000 {
                below_1000(q)
            } else {
                words_indian(q)
            }
        },
    )
}

fn words_western(n: u64) -> String {
    words_by(
        n,
        &[
            (1_000_000_000_000, "Trillion"),
            (1_000_000_000, "Billion"),
            (1_000_000, "Million"),
            (1_000, "Thousand"),
        ],
        below_1000,
    )
}

/// An amount as typed ("1,250", "1250.5", "Rs. 99.99") in minor units; `None` when it is not
/// a non-negative amount with at most two decimals within [`MAX_AMOUNT`].
pub fn parse_amount(s: &str) -> Option<i64> {
    // A currency written before the amount ("Rs. 99.99", "NPR 500", "₹ 20").
    let mut t = s.trim();
    for prefix in [
        "Rs.", "Rs", "NPR", "INR", "USD", "EUR", "GBP", "₹", "$", "€", "£",
    ] {
        if t.len() >= prefix.len()
            && t.is_char_boundary(prefix.len())
            && t[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            t = t[prefix.len()..].trim_start();
            break;
        }
    }
    let t: String = t.chars().filter(|c| *c != ',' && *c != ' ').collect();
    if t.is_empty() {
        return None;
    }
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t.as_str(), ""),
    };
    if !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || (int.is_empty() && frac.is_empty())
        || int.len() > 13
    {
        return None;
    }
    let major: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let minor: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let v = major.checked_mul(100)?.checked_add(minor)?;
    (v <= MAX_AMOUNT).then_some(v)
}

/// A tax rate or percentage as typed ("13", "13 %", "12.5") in basis points, at most 100 %.
pub fn parse_percent(s: &str) -> Option<i32> {
    let t = s.trim().trim_end_matches('%').trim();
    if t.is_empty() {
        return None;
    }
    let v = parse_amount(t)?;
    i32::try_from(v).ok().filter(|v| *v <= MAX_TAX_BP)
}

/// Basis points as a percentage: `13`, `12.5`.
pub fn percent_label(bp: i32) -> String {
    if bp % 100 == 0 {
        (bp / 100).to_string()
    } else if bp % 10 == 0 {
        format!("{}.{}", bp / 100, (bp % 100) / 10)
    } else {
        format!("{}.{:02}", bp / 100, bp % 100)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn line(price: i64, qty: i32, bp: i32, disc: i64) -> LineIn {
        LineIn {
            unit_price: price,
            quantity: qty,
            tax_bp: bp,
            discount: disc,
        }
    }

    #[test]
    fn tax_rounds_halves_up() {
        // 13 % of 0.50 is 0.065: 0.07 (6.5 paisa up to 7).
        assert_eq!(tax(50, 1300), 7);
        // 13 % of 0.46 is 0.0598: 0.06.
        assert_eq!(tax(46, 1300), 6);
        // 13 % of 0.42 is 0.0546: 0.05.
        assert_eq!(tax(42, 1300), 5);
        assert_eq!(tax(123_456, 0), 0);
        assert_eq!(tax(100_000, 1300), 13_000);
    }

    #[test]
    fn an_invoice_with_vat_and_an_exempt_line() {
        // Consultation Rs. 500 exempt, X-ray Rs. 1,200 at 13 %, invoice discount Rs. 170.
        let t = totals(&[line(50_000, 1, 0, 0), line(120_000, 1, 1300, 0)], 17_000).unwrap();
        // Shares 50:120 of 170 → 50 and 120.
        assert_eq!(t.lines[0].discount, 5_000);
        assert_eq!(t.lines[1].discount, 12_000);
        assert_eq!(t.lines[1].tax, 14_040);
        assert_eq!(t.total, 45_000 + 108_000 + 14_040);
        assert_eq!(t.gross, 170_000);
    }

    #[test]
    fn shares_leave_nothing_over() {
        assert_eq!(share(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(share(2, &[1, 1, 1]), vec![1, 1, 0]);
        assert_eq!(share(10, &[0, 5]), vec![0, 10]);
        assert_eq!(share(0, &[3, 4]), vec![0, 0]);
    }

    #[test]
    fn discounts_that_cannot_be() {
        assert_eq!(
            totals(&[line(100, 1, 0, 101)], 0),
            Err(MoneyError::LineDiscount(0))
        );
        assert_eq!(
            totals(&[line(100, 1, 0, 50)], 51),
            Err(MoneyError::InvoiceDiscount)
        );
        assert_eq!(
            totals(&[line(-1, 1, 0, 0)], 0),
            Err(MoneyError::OutOfRange(0))
        );
        assert_eq!(
            totals(&[line(MAX_AMOUNT, 2, 0, 0)], 0),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn words_in_lakhs_and_crores() {
        let npr = Currency::of("NPR").unwrap();
        assert_eq!(
            npr.words(12_345_678),
            "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Seventy-Eight Paisa Only"
        );
        assert_eq!(npr.words(0), "Rupees Zero Only");
        assert_eq!(npr.words(100), "Rupees One Only");
        assert_eq!(npr.words(2_500_000_000), "Rupees Two Crore Fifty Lakh Only");
        assert_eq!(
            npr.words(1_500_000_000_000),
            "Rupees One Thousand Five Hundred Crore Only"
        );
        let usd = Currency::of("USD").unwrap();
        assert_eq!(
            usd.words(123_456_701),
            "Dollars One Million Two Hundred Thirty-Four Thousand Five Hundred Sixty-Seven and One Cents Only"
        );
    }

    #[test]
    fn grouping() {
        let npr = Currency::of("NPR").unwrap();
        assert_eq!(npr.number(12_345_678), "1,23,456.78");
        assert_eq!(npr.number(5), "0.05");
        assert_eq!(npr.number(-10_000_000), "-1,00,000.00");
        assert_eq!(npr.format(99_999), "Rs. 999.99");
        assert_eq!(
            Currency::of("USD").unwrap().number(12_345_678),
            "123,456.78"
        );
    }

    #[test]
    fn amounts_as_typed() {
        assert_eq!(parse_amount("1,250"), Some(125_000));
        assert_eq!(parse_amount("1250.5"), Some(125_050));
        assert_eq!(parse_amount("Rs. 99.99"), Some(9_999));
        assert_eq!(parse_amount(".5"), Some(50));
        for bad in ["", "abc", "1.234", "-5", "1e5", "1.2.3", "99999999999999"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
        assert_eq!(parse_percent("13"), Some(1300));
        assert_eq!(parse_percent("12.5 %"), Some(1250));
        assert_eq!(parse_percent("101"), None);
        assert_eq!(percent_label(1250), "12.5");
        assert_eq!(percent_label(1300), "13");
        assert_eq!(percent_label(1325), "13.25");
    }

    fn lines() -> impl Strategy<Value = Vec<LineIn>> {
        prop::collection::vec(
            (
                0i64..5_000_000,
                1i32..50,
                prop::sample::select(vec![0, 500, 1300, 1250]),
            )
                .prop_flat_map(|(p, q, bp)| {
                    let gross = p * i64::from(q);
                    (Just(p), Just(q), Just(bp), 0..=gross)
                })
                .prop_map(|(p, q, bp, d)| line(p, q, bp, d)),
            1..12,
        )
    }

    proptest! {
        #[test]
        fn totals_add_up(ls in lines(), pct in 0u32..=100) {
            let base: i64 = ls.iter().map(|l| l.unit_price * i64::from(l.quantity) - l.discount).sum();
            let disc = base * i64::from(pct) / 100;
            let t = totals(&ls, disc).unwrap();
            // The invoice is the sum of its lines; every line is net + tax; nothing negative.
            prop_assert_eq!(t.total, t.lines.iter().map(|l| l.total).sum::<i64>());
            prop_assert_eq!(t.net + t.tax, t.total);
            prop_assert_eq!(t.gross - t.discount, t.net);
            // The discounts given are exactly the lines' and the invoice's.
            prop_assert_eq!(t.discount, ls.iter().map(|l| l.discount).sum::<i64>() + disc);
            for (l, lt) in ls.iter().zip(&t.lines) {
                prop_assert!(lt.net >= 0 && lt.tax >= 0);
                prop_assert_eq!(lt.tax, tax(lt.net, l.tax_bp));
                // Rounding is never off by more than half a minor unit.
                let exact = i128::from(lt.net) * i128::from(l.tax_bp);
                prop_assert!((i128::from(lt.tax) * 10_000 - exact).abs() <= 5_000);
            }
        }

        #[test]
        fn shares_are_proportional_and_exact(total in 0i64..1_000_000, ws in prop::collection::vec(0i64..1_000_000, 1..10)) {
            let sum: i64 = ws.iter().sum();
            prop_assume!(sum >= total);
            let s = share(total, &ws);
            prop_assert_eq!(s.iter().sum::<i64>(), if sum > 0 { total } else { 0 });
            for (x, w) in s.iter().zip(&ws) {
                // Each share is its exact proportion rounded down or up by one.
                let exact = i128::from(total) * i128::from(*w);
                let lo = exact / i128::from(sum.max(1));
                prop_assert!(i128::from(*x) == lo || i128::from(*x) == lo + 1);
                prop_assert!(*x <= *w);
            }
        }

        #[test]
        fn amounts_round_trip(minor in 0i64..MAX_AMOUNT) {
            let npr = Currency::default_currency();
            prop_assert_eq!(parse_amount(&npr.number(minor)), Some(minor));
            prop_assert_eq!(parse_amount(&Currency::of("USD").unwrap().format(minor)), Some(minor));
        }
    }
}
