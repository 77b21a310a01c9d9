//! Doses as doctors write them, the quantity to dispense, and the patient's instructions in
//! their language.
//!
//! A dose is either meal-slot notation (`1-0-1`: morning, afternoon, night; `1-1-1-1`: morning,
//! noon, evening, night; halves as `½` or `1/2`), or an optional amount and a frequency
//! (`OD`, `BD`, `TDS`, `QID`, `HS`, `q6h`, `weekly`, `SOS`/`PRN`, `stat`), or free text. The
//! numbers count the drug's units: tablets, capsules, sachets, drops, puffs, or millilitres of a
//! liquid.

use serde::Serialize;

/// How often a dose is taken.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// Amounts per meal slot (3 or 4 slots).
    Slots(Vec<f64>),
    /// `amount` this many times a day.
    PerDay(u32),
    /// Every so many hours.
    EveryHours(u32),
    Weekly,
    AsNeeded,
    Once,
}

/// A dose understood: an amount per time (1 unless written) and a schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Dose {
    pub amount: f64,
    pub schedule: Schedule,
}

fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    let (whole, frac) = match s.strip_suffix('½') {
        Some(w) => (w, 0.5),
        None => match s.strip_suffix('¼') {
            Some(w) => (w, 0.25),
            None => match s.strip_suffix('¾') {
                Some(w) => (w, 0.75),
                None => (s, 0.0),
            },
        },
    };
    if frac > 0.0 {
        let w = if whole.is_empty() {
            0.0
        } else {
            whole.parse::<u32>().ok()? as f64
        };
        return Some(w + frac);
    }
    if let Some((a, b)) = s.split_once('/') {
        let (a, b) = (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?);
        return (b > 0 && a <= b * 10).then(|| f64::from(a) / f64::from(b));
    }
    let v = s.parse::<f64>().ok()?;
    (v.is_finite() && (0.0..=1000.0).contains(&v)).then_some(v)
}

fn slots(s: &str) -> Option<Vec<f64>> {
    let parts: Vec<&str> = s.split('-').collect();
    if !(3..=4).contains(&parts.len()) {
        return None;
    }
    let v: Option<Vec<f64>> = parts.iter().map(|p| number(p)).collect();
    v.filter(|v| v.iter().any(|x| *x > 0.0))
}

fn frequency(s: &str) -> Option<Schedule> {
    let s = s.trim().trim_end_matches('.');
    Some(match s {
        "od" | "qd" | "once daily" | "once a day" | "daily" => Schedule::PerDay(1),
        "bd" | "bid" | "twice daily" | "twice a day" => Schedule::PerDay(2),
        "tds" | "tid" | "thrice daily" | "three times a day" => Schedule::PerDay(3),
        "qid" | "qds" | "four times a day" => Schedule::PerDay(4),
        "hs" | "at bedtime" | "at night" => Schedule::Slots(vec![0.0, 0.0, 1.0]),
        "weekly" | "once a week" => Schedule::Weekly,
        "sos" | "prn" | "when needed" | "as needed" => Schedule::AsNeeded,
        "stat" | "once" => Schedule::Once,
        _ => {
            let h = s
                .strip_prefix('q')
                .and_then(|x| x.strip_suffix('h'))
                .or_else(|| {
                    s.strip_prefix("every ")
                        .and_then(|x| x.strip_suffix(" hours").or(x.strip_suffix('h')))
                })?;
            let h = h.trim().parse::<u32>().ok()?;
            if !(1..=72).contains(&h) {
                return None;
            }
            Schedule::EveryHours(h)
        }
    })
}

/// Words between the amount and the frequency that name the unit ("1 tab BD", "5 ml TDS").
const UNIT_WORDS: &[&str] = &[
    "ml", "tab", "tabs", "tablet", "tablets", "cap", "caps", "capsule", "capsules", "drop",
    "drops", "puff", "puffs", "sachet", "sachets",
];

/// The dose understood, or `None` for free text (printed as written).
pub fn parse(written: &str) -> Option<Dose> {
    let s = written.trim().to_lowercase();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(v) = slots(&s.replace(' ', "")) {
        return Some(Dose {
            amount: 1.0,
            schedule: Schedule::Slots(v),
        });
    }
    if let Some(f) = frequency(&s) {
        return Some(Dose {
            amount: 1.0,
            schedule: f,
        });
    }
    // An amount first: "2 BD", "5 ml TDS", "½ tab 1-0-1".
    let (amount, rest) = s.split_once(' ')?;
    let amount = number(amount).filter(|a| *a > 0.0)?;
    let rest = match rest.split_once(' ') {
        Some((unit, tail)) if UNIT_WORDS.contains(&unit) => tail,
        _ => rest,
    };
    if let Some(v) = slots(&rest.replace(' ', "")) {
        return Some(Dose {
            amount,
            schedule: Schedule::Slots(v),
        });
    }
    frequency(rest).map(|schedule| Dose { amount, schedule })
}

impl Dose {
    /// Units taken per day, where the schedule says.
    pub fn per_day(&self) -> Option<f64> {
        match &self.schedule {
            Schedule::Slots(v) => Some(self.amount * v.iter().sum::<f64>()),
            Schedule::PerDay(n) => Some(self.amount * f64::from(*n)),
            Schedule::EveryHours(h) => Some(self.amount * (24.0 / f64::from(*h)).floor().max(1.0)),
            Schedule::Weekly => Some(self.amount / 7.0),
            Schedule::AsNeeded | Schedule::Once => None,
        }
    }
}

/// How a drug form is counted when dispensed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// Whole units: tablets, capsules, sachets.
    Units,
    /// Millilitres of a liquid (bottles when the pack size is known).
    Millilitres,
    /// Packs (a tube, an inhaler, a bottle of drops): the doctor says how many.
    ByHand,
}

pub const FORMS: &[&str] = &[
    "tablet",
    "capsule",
    "syrup",
    "suspension",
    "drops",
    "injection",
    "cream",
    "ointment",
    "gel",
    "inhaler",
    "sachet",
    "other",
];

pub fn counted(form: &str) -> Counted {
    match form {
        "tablet" | "capsule" | "sachet" => Counted::Units,
        "syrup" | "suspension" => Counted::Millilitres,
        _ => Counted::ByHand,
    }
}

/// The route a form is usually given by.
pub fn default_route(form: &str) -> &'static str {
    match form {
        "cream" | "ointment" | "gel" => "topical",
        "inhaler" => "inhaled",
        "injection" => "im",
        "drops" => "eye",
        _ => "oral",
    }
}

pub const ROUTES: &[&str] = &[
    "oral",
    "sublingual",
    "topical",
    "eye",
    "ear",
    "nasal",
    "inhaled",
    "im",
    "iv",
    "sc",
    "rectal",
    "vaginal",
];

pub const TIMINGS: &[&str] = &[
    "",
    "after_food",
    "before_food",
    "with_food",
    "bedtime",
    "empty_stomach",
];

/// A quantity to dispense: a number and its unit (`tablet`, `capsule`, `sachet`, `ml`,
/// `bottle`, `pack`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quantity {
    pub amount: i32,
    pub unit: &'static str,
}

/// The quantity for `days` of `dose` of a drug of `form` (bottles of `pack_ml` for a liquid
/// whose pack is known). `None` when it cannot be computed: the doctor types it.
pub fn quantity(
    dose: &Dose,
    form: &str,
    days: Option<u32>,
    pack_ml: Option<i32>,
) -> Option<Quantity> {
    let total = match dose.schedule {
        Schedule::Once => dose.amount,
        _ => dose.per_day()? * f64::from(days?),
    };
    // A tolerance: 0.5 × 3 × 2 is 3.0000000000000004 in floating point, not 4 tablets.
    let whole = |x: f64| (x - 1e-9).ceil().max(1.0) as i32;
    match counted(form) {
        Counted::Units => Some(Quantity {
            amount: whole(total),
            unit: match form {
                "capsule" => "capsule",
                "sachet" => "sachet",
                _ => "tablet",
            },
        }),
        Counted::Millilitres => Some(match pack_ml {
            Some(p) if p > 0 => Quantity {
                amount: whole(total / f64::from(p)),
                unit: "bottle",
            },
            _ => Quantity {
                amount: whole(total),
                unit: "ml",
            },
        }),
        Counted::ByHand => None,
    }
}

/// The languages instructions are printed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatientLang {
    En,
    Ne,
    Hi,
}

impl PatientLang {
    pub const ALL: [PatientLang; 3] = [PatientLang::En, PatientLang::Ne, PatientLang::Hi];

    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ne => "ne",
            Self::Hi => "hi",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Ne => "नेपाली",
            Self::Hi => "हिन्दी",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The patient's preferred language as registered (free text: "Nepali", "ne", "नेपाली").
    pub fn of_patient(preferred: Option<&str>) -> Self {
        let p = preferred.unwrap_or("").trim().to_lowercase();
        if p.starts_with("ne") || p.contains("नेपाली") {
            Self::Ne
        } else if p.starts_with("hi") || p.contains("हिन्दी") || p.contains("हिंदी")
        {
            Self::Hi
        } else {
            Self::En
        }
    }

    fn digits(self, s: &str) -> String {
        if self != Self::Ne {
            return s.to_owned();
        }
        s.chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from_u32(0x0966 + d).unwrap_or(c),
                None => c,
            })
            .collect()
    }
}

fn amount_text(x: f64) -> String {
    let whole = x.trunc();
    let frac = x - whole;
    let f = if (frac - 0.5).abs() < 1e-9 {
        "½"
    } else if (frac - 0.25).abs() < 1e-9 {
        "¼"
    } else if (frac - 0.75).abs() < 1e-9 {
        "¾"
    } else if frac.abs() < 1e-9 {
        ""
    } else {
        return format!("{x:.2}").trim_end_matches('0').to_owned();
    };
    match (whole as i64, f) {
        (0, "") => "0".into(),
        (0, f) => f.into(),
        (w, f) => format!("{w}{f}"),
    }
}

fn unit_word(lang: PatientLang, form: &str, amount: f64) -> &'static str {
    let many = amount > 1.0;
    match (lang, counted(form), form) {
        (_, Counted::Millilitres, _) => "ml",
        (PatientLang::En, _, "tablet") => {
            if many {
                "tablets"
            } else {
                "tablet"
            }
        }
        (PatientLang::En, _, "capsule") => {
            if many {
                "capsules"
            } else {
                "capsule"
            }
        }
        (PatientLang::En, _, "sachet") => {
            if many {
                "sachets"
            } else {
                "sachet"
            }
        }
        (PatientLang::En, _, "drops") => {
            if many {
                "drops"
            } else {
                "drop"
            }
        }
        (PatientLang::En, _, "inhaler") => {
            if many {
                "puffs"
            } else {
                "puff"
            }
        }
        (PatientLang::Ne, _, "tablet") => "चक्की",
        (PatientLang::Ne, _, "capsule") => "क्याप्सुल",
        (PatientLang::Ne, _, "sachet") => "प्याकेट",
        (PatientLang::Ne, _, "drops") => "थोपा",
        (PatientLang::Ne, _, "inhaler") => "पफ",
        (PatientLang::Hi, _, "tablet") => "गोली",
        (PatientLang::Hi, _, "capsule") => "कैप्सूल",
        (PatientLang::Hi, _, "sachet") => "पाउच",
        (PatientLang::Hi, _, "drops") => "बूँद",
        (PatientLang::Hi, _, "inhaler") => "पफ",
        _ => "",
    }
}

fn slot_names(lang: PatientLang, n: usize) -> &'static [&'static str] {
    match (lang, n) {
        (PatientLang::En, 3) => &["in the morning", "in the afternoon", "at night"],
        (PatientLang::En, _) => &["in the morning", "at noon", "in the evening", "at night"],
        (PatientLang::Ne, 3) => &["बिहान", "दिउँसो", "राति"],
        (PatientLang::Ne, _) => &["बिहान", "दिउँसो", "साँझ", "राति"],
        (PatientLang::Hi, 3) => &["सुबह", "दोपहर", "रात"],
        (PatientLang::Hi, _) => &["सुबह", "दोपहर", "शाम", "रात"],
    }
}

fn timing_text(lang: PatientLang, timing: &str) -> &'static str {
    match (lang, timing) {
        (PatientLang::En, "after_food") => "after food",
        (PatientLang::En, "before_food") => "before food",
        (PatientLang::En, "with_food") => "with food",
        (PatientLang::En, "bedtime") => "at bedtime",
        (PatientLang::En, "empty_stomach") => "on an empty stomach",
        (PatientLang::Ne, "after_food") => "खाना खाएपछि",
        (PatientLang::Ne, "before_food") => "खाना खानुअघि",
        (PatientLang::Ne, "with_food") => "खानासँगै",
        (PatientLang::Ne, "bedtime") => "सुत्ने बेलामा",
        (PatientLang::Ne, "empty_stomach") => "खाली पेटमा",
        (PatientLang::Hi, "after_food") => "खाने के बाद",
        (PatientLang::Hi, "before_food") => "खाने से पहले",
        (PatientLang::Hi, "with_food") => "खाने के साथ",
        (PatientLang::Hi, "bedtime") => "सोते समय",
        (PatientLang::Hi, "empty_stomach") => "खाली पेट",
        _ => "",
    }
}

/// The patient's instructions for one drug, in `lang`: "1 tablet in the morning, 1 tablet at
/// night, after food, for 5 days". A dose that is free text is given as written.
pub fn instructions(
    lang: PatientLang,
    written: &str,
    form: &str,
    timing: &str,
    days: Option<u32>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    match parse(written) {
        None => parts.push(written.trim().to_owned()),
        Some(d) => {
            let take = |x: f64| {
                let u = unit_word(lang, form, x);
                if u.is_empty() {
                    amount_text(x)
                } else {
                    format!("{} {u}", amount_text(x))
                }
            };
            match &d.schedule {
                Schedule::Slots(v) => {
                    let names = slot_names(lang, v.len());
                    for (x, name) in v.iter().zip(names) {
                        if *x > 0.0 {
                            parts.push(match lang {
                                PatientLang::En => format!("{} {name}", take(x * d.amount)),
                                _ => format!("{name} {}", take(x * d.amount)),
                            });
                        }
                    }
                }
                Schedule::PerDay(n) => parts.push(match lang {
                    PatientLang::En => match n {
                        1 => format!("{} once a day", take(d.amount)),
                        2 => format!("{} twice a day", take(d.amount)),
                        n => format!("{} {n} times a day", take(d.amount)),
                    },
                    PatientLang::Ne => format!("दिनको {n} पटक {}", take(d.amount)),
                    PatientLang::Hi => format!("दिन में {n} बार {}", take(d.amount)),
                }),
                Schedule::EveryHours(h) => parts.push(match lang {
                    PatientLang::En => format!("{} every {h} hours", take(d.amount)),
                    PatientLang::Ne => format!("हरेक {h} घण्टामा {}", take(d.amount)),
                    PatientLang::Hi => format!("हर {h} घंटे {}", take(d.amount)),
                }),
                Schedule::Weekly => parts.push(match lang {
                    PatientLang::En => format!("{} once a week", take(d.amount)),
                    PatientLang::Ne => format!("हप्तामा एक पटक {}", take(d.amount)),
                    PatientLang::Hi => format!("हफ़्ते में एक बार {}", take(d.amount)),
                }),
                Schedule::AsNeeded => parts.push(match lang {
                    PatientLang::En => format!("{} when needed", take(d.amount)),
                    PatientLang::Ne => format!("आवश्यक परेमा {}", take(d.amount)),
                    PatientLang::Hi => format!("ज़रूरत होने पर {}", take(d.amount)),
                }),
                Schedule::Once => parts.push(match lang {
                    PatientLang::En => format!("{} once only", take(d.amount)),
                    PatientLang::Ne => format!("एक पटक मात्र {}", take(d.amount)),
                    PatientLang::Hi => format!("केवल एक बार {}", take(d.amount)),
                }),
            }
        }
    }
    let t = timing_text(lang, timing);
    if !t.is_empty() {
        parts.push(t.to_owned());
    }
    if let Some(n) = days {
        parts.push(match lang {
            PatientLang::En if n == 1 => "for 1 day".to_owned(),
            PatientLang::En => format!("for {n} days"),
            PatientLang::Ne => format!("{n} दिनसम्म"),
            PatientLang::Hi => format!("{n} दिन तक"),
        });
    }
    lang.digits(&parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meal_slots_and_frequencies_are_understood() {
        assert_eq!(parse("1-0-1").unwrap().per_day(), Some(2.0));
        assert_eq!(parse(" 1 - 1 - 1 ").unwrap().per_day(), Some(3.0));
        assert_eq!(parse("½-0-½").unwrap().per_day(), Some(1.0));
        assert_eq!(parse("1/2-0-1/2").unwrap().per_day(), Some(1.0));
        assert_eq!(parse("1-1-1-1").unwrap().per_day(), Some(4.0));
        assert_eq!(parse("BD").unwrap().per_day(), Some(2.0));
        assert_eq!(parse("2 tab TDS").unwrap().per_day(), Some(6.0));
        assert_eq!(parse("5 ml TDS").unwrap().per_day(), Some(15.0));
        assert_eq!(parse("q6h").unwrap().per_day(), Some(4.0));
        assert_eq!(parse("every 8 hours").unwrap().per_day(), Some(3.0));
        assert_eq!(parse("HS").unwrap().per_day(), Some(1.0));
        assert_eq!(parse("SOS").unwrap().per_day(), None);
        assert!(parse("0-0-0").is_none());
        assert!(parse("apply thinly to the rash").is_none());
        assert!(parse("1-2").is_none());
    }

    #[test]
    fn quantity_is_computed_for_tablets_capsules_and_liquids() {
        let q = |dose: &str, form: &str, days: Option<u32>, pack: Option<i32>| {
            quantity(&parse(dose).unwrap(), form, days, pack)
        };
        assert_eq!(
            q("1-0-1", "tablet", Some(5), None),
            Some(Quantity {
                amount: 10,
                unit: "tablet"
            })
        );
        // Halves round up to whole tablets.
        assert_eq!(
            q("½-0-½", "tablet", Some(3), None),
            Some(Quantity {
                amount: 3,
                unit: "tablet"
            })
        );
        assert_eq!(
            q("½-0-0", "tablet", Some(3), None),
            Some(Quantity {
                amount: 2,
                unit: "tablet"
            })
        );
        assert_eq!(
            q("TDS", "capsule", Some(7), None),
            Some(Quantity {
                amount: 21,
                unit: "capsule"
            })
        );
        assert_eq!(
            q("5 ml TDS", "syrup", Some(5), None),
            Some(Quantity {
                amount: 75,
                unit: "ml"
            })
        );
        assert_eq!(
            q("5 ml TDS", "syrup", Some(5), Some(60)),
            Some(Quantity {
                amount: 2,
                unit: "bottle"
            })
        );
        assert_eq!(
            q("2 stat", "tablet", None, None),
            Some(Quantity {
                amount: 2,
                unit: "tablet"
            })
        );
        assert_eq!(
            q("weekly", "tablet", Some(28), None),
            Some(Quantity {
                amount: 4,
                unit: "tablet"
            })
        );
        // Without a duration, as needed, or a cream: the doctor says how much.
        assert_eq!(q("1-0-1", "tablet", None, None), None);
        assert_eq!(q("SOS", "tablet", Some(5), None), None);
        assert_eq!(q("BD", "cream", Some(7), None), None);
    }

    #[test]
    fn instructions_read_in_the_patients_language() {
        assert_eq!(
            instructions(PatientLang::En, "1-0-1", "tablet", "after_food", Some(5)),
            "1 tablet in the morning, 1 tablet at night, after food, for 5 days"
        );
        assert_eq!(
            instructions(PatientLang::Ne, "1-0-1", "tablet", "after_food", Some(5)),
            "बिहान १ चक्की, राति १ चक्की, खाना खाएपछि, ५ दिनसम्म"
        );
        assert_eq!(
            instructions(PatientLang::Hi, "½-0-½", "tablet", "", Some(10)),
            "सुबह ½ गोली, रात ½ गोली, 10 दिन तक"
        );
        assert_eq!(
            instructions(PatientLang::En, "5 ml TDS", "syrup", "", Some(3)),
            "5 ml 3 times a day, for 3 days"
        );
        assert_eq!(
            instructions(PatientLang::En, "apply thinly", "cream", "", None),
            "apply thinly"
        );
        assert_eq!(PatientLang::of_patient(Some("Nepali")), PatientLang::Ne);
        assert_eq!(PatientLang::of_patient(Some("हिन्दी")), PatientLang::Hi);
        assert_eq!(PatientLang::of_patient(None), PatientLang::En);
    }
}
