//! Sample data: a lived-in demo clinic, and bulk patients for benchmarks
//! (`clinicbox dev seed --tenant X --patients N`). Deterministic, so runs are comparable.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::db::{Db, TenantDb};
use crate::domain::auth::{Accounts, Role, repo as accounts};
use crate::domain::patients::{
    AllergyInput, EmergencyContact, PatientInput, Phone, repo as patients,
};
use crate::domain::scheduling::{self, Status, repo as sched, slots};
use crate::domain::tenants::Tenant;

/// Given names (female, male) and family names from several cultures, most common first.
pub const GIVEN_F: &[&str] = &[
    "Maria",
    "Ana",
    "Fatima",
    "Priya",
    "Sita",
    "Aisha",
    "Mei",
    "Olga",
    "Ngozi",
    "Sofia",
    "Chiara",
    "Élodie",
    "Zeynep",
    "Ingrid",
    "Hana",
    "Lucía",
    "Amara",
    "Yuki",
    "Leila",
    "Gabriela",
    "Anjali",
    "Nkechi",
    "Jana",
    "Małgorzata",
    "Thảo",
    "Siobhan",
    "Rukhsana",
    "Beatriz",
    "Pooja",
    "Ayesha",
    "Dolma",
    "Kalpana",
    "Nadia",
    "Émilie",
    "Ewa",
    "Chloé",
    "Samira",
    "Linh",
    "Mariam",
    "Fernanda",
];
pub const GIVEN_M: &[&str] = &[
    "José",
    "Mohammed",
    "Ram",
    "Wei",
    "João",
    "Ahmed",
    "Arjun",
    "Luis",
    "Chinedu",
    "Ivan",
    "Hiroshi",
    "Mehmet",
    "Lars",
    "Omar",
    "Carlos",
    "Bishnu",
    "Kwame",
    "Stefan",
    "Tomás",
    "Rajesh",
    "Nguyễn",
    "Pierre",
    "Ali",
    "Diego",
    "Suresh",
    "Emeka",
    "Krzysztof",
    "Hamid",
    "Minh",
    "Bilal",
    "Pasang",
    "Ricardo",
    "Yusuf",
    "André",
    "Kofi",
    "Henrik",
    "Sanjay",
    "Tenzing",
    "Mateo",
    "Dawit",
];
pub const FAMILY: &[&str] = &[
    "García",
    "Sharma",
    "Silva",
    "Wang",
    "Okafor",
    "Müller",
    "Nguyen",
    "Khan",
    "Thapa",
    "Smith",
    "Pereira",
    "Li",
    "Adeyemi",
    "Rossi",
    "Yılmaz",
    "Patel",
    "Gurung",
    "Fernández",
    "Kowalski",
    "Haddad",
    "Lindqvist",
    "Dubois",
    "Tanaka",
    "Shrestha",
    "Mensah",
    "Santos",
    "Ivanova",
    "Chen",
    "Okonkwo",
    "Martínez",
    "Al-Farsi",
    "Rai",
    "Wójcik",
    "Nakamura",
    "Lefèvre",
    "Bianchi",
    "Şahin",
    "O'Brien",
    "Tamang",
    "Hoffmann",
    "Abebe",
    "Karki",
    "Costa",
    "Pham",
    "Jovanović",
    "Ibrahim",
    "Singh",
    "Lopez",
    "Magar",
    "Eriksen",
];
const SUBSTANCES: &[(&str, &str, &str)] = &[
    ("Penicillin", "rash", "severe"),
    ("Peanuts", "anaphylaxis", "severe"),
    ("Latex", "itching", "moderate"),
    ("Ibuprofen", "stomach pain", "mild"),
    ("Sulfonamides", "hives", "moderate"),
    ("Shellfish", "swelling", "severe"),
];
const LANGUAGES: &[&str] = &[
    "English",
    "Nepali",
    "Spanish",
    "Portuguese",
    "Arabic",
    "Hindi",
    "French",
    "Mandarin",
];

/// xorshift64*: small, deterministic, good enough for sample data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// Skewed towards the start of a list: common names come up more often.
    pub fn skewed<'a>(&mut self, list: &'a [&'a str]) -> &'a str {
        let a = self.below(list.len());
        let b = self.below(list.len());
        list[a.min(b)]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

fn sample_patient(rng: &mut Rng, today: NaiveDate) -> PatientInput {
    let female = rng.chance(52);
    let given = if female {
        rng.skewed(GIVEN_F)
    } else {
        rng.skewed(GIVEN_M)
    };
    let family = rng.skewed(FAMILY);
    let age_days = 30 + rng.below(365 * 85) as i64;
    let birth = today - Duration::days(age_days);
    let estimated = rng.chance(4);
    let mut allergies = Vec::new();
    if rng.chance(18) {
        let (s, r, sev) = SUBSTANCES[rng.below(SUBSTANCES.len())];
        allergies.push(AllergyInput {
            substance: s.into(),
            reaction: r.into(),
            severity: sev.into(),
        });
    }
    let phone = format!(
        "+977 98{:01}-{:03}{:04}",
        rng.below(10),
        rng.below(1000),
        rng.below(10_000)
    );
    PatientInput {
        given_name: given.into(),
        middle_name: None,
        family_name: family.into(),
        sex: if female { "female" } else { "male" }.into(),
        birth_date: (!estimated).then(|| birth.format("%Y-%m-%d").to_string()),
        birth_date_estimated: None,
        estimated_age: estimated.then(|| (age_days / 365).to_string()),
        phones: vec![Phone {
            label: "mobile".into(),
            number: phone,
        }],
        email: rng
            .chance(40)
            .then(|| format!("patient{}@example.org", rng.below(1_000_000))),
        address: rng
            .chance(60)
            .then(|| format!("Ward {}, Lalitpur", 1 + rng.below(29))),
        national_id: None,
        insurance_id: rng
            .chance(30)
            .then(|| format!("INS-{:08}", rng.below(100_000_000))),
        emergency_contact: rng.chance(50).then(|| EmergencyContact {
            name: format!("{} {}", rng.skewed(GIVEN_F), family),
            relation: "family".into(),
            phone: format!("+977 98{:08}", rng.below(100_000_000)),
        }),
        preferred_language: Some(LANGUAGES[rng.below(LANGUAGES.len())].into()),
        allergies,
        alerts: None,
        notes: None,
    }
}

/// The demo's eye checks (appointments of the type with the eye template).
const DEMO_EYE_VISIT: (&str, &str, &str, &str, &str, bool) = (
    "H524",
    "Presbyopia",
    "Difficulty reading small print for six months",
    "Both eyes quiet",
    "Reading glasses; review in a year",
    false,
);

/// Common outpatient diagnoses for the demo's visits: (ICD-10-CM code, title, complaint,
/// examination, plan, chronic).
const DEMO_VISITS: &[(&str, &str, &str, &str, &str, bool)] = &[
    (
        "J069",
        "Acute upper respiratory infection, unspecified",
        "Sore throat and runny nose for 3 days",
        "Throat congested, chest clear",
        "Paracetamol 500 mg when needed, warm fluids, rest",
        false,
    ),
    (
        "I10",
        "Essential (primary) hypertension",
        "Headache in the mornings",
        "BP raised on two readings",
        "Amlodipine 5 mg daily, less salt, review in 4 weeks",
        true,
    ),
    (
        "E119",
        "Type 2 diabetes mellitus without complications",
        "Thirst and tiredness for a month",
        "No foot ulcers, sensation intact",
        "Metformin 500 mg twice daily after meals, diet advice, HbA1c",
        true,
    ),
    (
        "A09",
        "Infectious gastroenteritis and colitis, unspecified",
        "Loose stools and cramps since yesterday",
        "Mild dehydration, abdomen soft",
        "Oral rehydration salts, zinc, return if blood in stool",
        false,
    ),
    (
        "K219",
        "Gastro-esophageal reflux disease without esophagitis",
        "Burning in the chest after meals",
        "Epigastric tenderness",
        "Omeprazole 20 mg before breakfast for 4 weeks",
        false,
    ),
    (
        "N390",
        "Urinary tract infection, site not specified",
        "Burning on passing urine",
        "Suprapubic tenderness, no fever",
        "Nitrofurantoin 100 mg twice daily for 5 days, fluids",
        false,
    ),
    (
        "M545",
        "Low back pain",
        "Back pain after lifting",
        "Paraspinal spasm, no neurological signs",
        "Ibuprofen 400 mg three times daily after food, exercises",
        false,
    ),
    (
        "J45909",
        "Unspecified asthma, uncomplicated",
        "Wheeze at night",
        "Scattered wheeze",
        "Salbutamol inhaler when needed, spacer technique shown",
        true,
    ),
    (
        "R509",
        "Fever, unspecified",
        "Fever for two days",
        "Temperature raised, no focus found",
        "Paracetamol, fluids, blood count if fever persists",
        false,
    ),
    (
        "L309",
        "Dermatitis, unspecified",
        "Itchy rash on the forearms",
        "Dry erythematous patches",
        "Emollient twice daily, hydrocortisone 1% for 7 days",
        false,
    ),
];

/// A demo drug: (generic name, brands, strength, form, class, bottle ml).
type DemoDrug = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<i32>,
);
/// A demo prescription line: (diagnosis code, drug index, dose, timing, days, quantity by hand).
type DemoLine = (
    &'static str,
    usize,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// The demo clinic's drug list.
const DEMO_DRUGS: &[DemoDrug] = &[
    (
        "Paracetamol",
        "Cetamol, Calpol",
        "500 mg",
        "tablet",
        "",
        None,
    ),
    (
        "Paracetamol",
        "Calpol",
        "120 mg/5 ml",
        "syrup",
        "",
        Some(60),
    ),
    (
        "Amlodipine",
        "Amlopres",
        "5 mg",
        "tablet",
        "calcium channel blocker",
        None,
    ),
    (
        "Metformin",
        "Glycomet",
        "500 mg",
        "tablet",
        "biguanide",
        None,
    ),
    (
        "Oral rehydration salts",
        "Jeevan Jal",
        "",
        "sachet",
        "",
        None,
    ),
    ("Zinc sulfate", "", "20 mg", "tablet", "", None),
    (
        "Omeprazole",
        "Omez",
        "20 mg",
        "capsule",
        "proton pump inhibitor",
        None,
    ),
    ("Nitrofurantoin", "Macrobid", "100 mg", "capsule", "", None),
    ("Ibuprofen", "Brufen", "400 mg", "tablet", "NSAID", None),
    (
        "Salbutamol",
        "Asthalin",
        "100 mcg/puff",
        "inhaler",
        "",
        None,
    ),
    ("Hydrocortisone", "", "1%", "cream", "corticosteroid", None),
    (
        "Amoxicillin",
        "Novamox",
        "500 mg",
        "capsule",
        "penicillin",
        None,
    ),
    (
        "Cetirizine",
        "Cetzine",
        "10 mg",
        "tablet",
        "antihistamine",
        None,
    ),
];

/// The prescription of each demo diagnosis.
const DEMO_RX: &[DemoLine] = &[
    ("J069", 0, "1-1-1", "after_food", Some("3"), None),
    ("J069", 12, "0-0-1", "", Some("5"), None),
    ("I10", 2, "1-0-0", "", Some("30"), None),
    ("E119", 3, "1-0-1", "after_food", Some("30"), None),
    ("A09", 4, "1 sachet TDS", "", Some("3"), None),
    ("A09", 5, "1-0-0", "", Some("10"), None),
    ("K219", 6, "1-0-0", "before_food", Some("28"), None),
    ("N390", 7, "1-0-1", "after_food", Some("5"), None),
    ("M545", 8, "1-1-1", "after_food", Some("5"), None),
    ("J45909", 9, "2 puffs SOS", "", None, Some("1")),
    ("R509", 0, "1-1-1", "after_food", Some("3"), None),
    ("L309", 10, "BD", "", Some("7"), Some("1")),
];

/// `lo` plus a random whole number below `span`.
fn between(rng: &mut Rng, lo: i16, span: usize) -> i16 {
    lo + i16::try_from(rng.below(span)).unwrap_or(0)
}

/// What the demo's visits record in their template's fields (the default template's systemic
/// examination, the eye template's acuity and pressures), by key.
const DEMO_FIELDS: &[(&str, &str)] = &[
    ("general_condition", "Fair, well oriented"),
    ("cardiovascular_cvs", "S1 S2 heard, no murmur"),
    (
        "respiratory_rs",
        "Bilateral air entry equal, no added sounds",
    ),
    ("abdomen_p_a", "Soft, non-tender"),
    ("nervous_system_cns", "No focal deficit"),
    ("visual_acuity_right_eye", "6/9"),
    ("visual_acuity_left_eye", "6/6"),
    ("intraocular_pressure_right", "16"),
    ("intraocular_pressure_left", "15"),
    ("anterior_segment", "Quiet, clear lens"),
    ("fundus", "Cup-disc ratio 0.3, healthy rim"),
    ("glasses_prescription", "Near add +1.50 DS both eyes"),
];

/// The eye clinic's template the demo adds (and gives its "Eye check" type).
const DEMO_EYE_TEMPLATE: &str = "[examination] Eye examination
Visual acuity, right eye
Visual acuity, left eye
Intraocular pressure, right | mmHg
Intraocular pressure, left | mmHg
Anterior segment
Fundus
[plan]
Glasses prescription
";

/// A visit for a demo appointment the doctor has seen (signed when the appointment is
/// completed), with vitals, the diagnosis, the note and, for chronic conditions, a problem.
#[allow(clippy::too_many_arguments, reason = "one demo record, spelled out")]
async fn demo_visit(
    conn: &mut sqlx::PgConnection,
    rng: &mut Rng,
    patient: i64,
    appointment: i64,
    doctor: i64,
    at: DateTime<Utc>,
    signed: bool,
    zone: Tz,
    drugs: &[crate::domain::prescriptions::Drug],
) -> anyhow::Result<()> {
    use crate::domain::prescriptions::{ItemInput, repo as rx};
    use crate::domain::visits::model::NoteData;
    use crate::domain::visits::repo as visits;
    use crate::domain::visits::vitals::VitalsData;
    let layout = visits::template_for(conn, Some(appointment))
        .await?
        .unwrap_or_default();
    let (code, title, complaint, exam, plan, chronic) = if layout.name == "Eye examination" {
        DEMO_EYE_VISIT
    } else {
        DEMO_VISITS[rng.below(DEMO_VISITS.len())]
    };
    let visit = visits::insert(conn, patient, Some(appointment), doctor, at).await?;
    let systolic = if code == "I10" {
        between(rng, 145, 25)
    } else {
        between(rng, 105, 30)
    };
    let vitals = VitalsData {
        systolic: Some(systolic),
        diastolic: Some(systolic - between(rng, 35, 15)),
        pulse: Some(between(rng, 64, 30)),
        temperature_dc: Some(if code == "R509" {
            between(rng, 380, 12)
        } else {
            between(rng, 362, 10)
        }),
        respiratory_rate: Some(between(rng, 14, 6)),
        spo2: Some(between(rng, 95, 5)),
        weight_g: Some(
            i32::from(between(rng, 48, 40)) * 1000 + i32::from(between(rng, 0, 9)) * 100,
        ),
        height_mm: Some(i32::from(between(rng, 150, 35)) * 10),
        glucose_mg_dl: (code == "E119").then(|| between(rng, 150, 90)),
        pain: Some(between(rng, 0, 6)),
        note: None,
    };
    visits::insert_vitals(
        conn,
        patient,
        Some(appointment),
        Some(visit),
        &vitals,
        Some(doctor),
        at,
    )
    .await?;
    visits::add_diagnosis(conn, visit, Some(("icd10cm", code)), title, true, at).await?;
    if chronic {
        let day = scheduling::local_date(zone, at);
        visits::add_problem(
            conn,
            patient,
            Some(("icd10cm", code)),
            title,
            day,
            Some(doctor),
        )
        .await?;
    }
    let note = NoteData {
        complaint: complaint.to_owned(),
        history: String::new(),
        examination: exam.to_owned(),
        assessment: String::new(),
        plan: plan.to_owned(),
        follow_up_on: chronic.then(|| scheduling::local_date(zone, at) + Duration::days(28)),
        fields: layout
            .fields
            .iter()
            .filter_map(|f| {
                DEMO_FIELDS
                    .iter()
                    .find(|(k, _)| *k == f.key)
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            })
            .collect(),
    };
    visits::save_note(conn, visit, &note, Some(doctor), at).await?;
    for (_, drug, dose, timing, days, quantity) in DEMO_RX.iter().filter(|r| r.0 == code) {
        let d = &drugs[*drug];
        let line = ItemInput {
            drug_id: d.id.to_string(),
            dose: (*dose).to_owned(),
            timing: (*timing).to_owned(),
            days: days.unwrap_or_default().to_owned(),
            quantity: quantity.unwrap_or_default().to_owned(),
            ..ItemInput::default()
        }
        .validate(Some(d), &[])
        .map_err(|e| anyhow::anyhow!("demo prescription {code}: {e:?}"))?;
        rx::add_item(conn, visit, &line, at).await?;
    }
    if signed {
        visits::sign(conn, visit, doctor, at + Duration::minutes(15)).await?;
    }
    Ok(())
}

/// A one-page PDF saying `lines` (valid: offsets and cross-reference table computed).
pub fn demo_pdf(lines: &[&str]) -> Vec<u8> {
    let mut text = String::from("BT /F1 12 Tf 56 780 Td 16 TL");
    for l in lines {
        let escaped = l
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        text.push_str(&format!(" ({escaped}) '"));
    }
    text.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A photo-like PNG: a skin-coloured gradient with a darker oval.
fn demo_photo(seed: u32) -> Vec<u8> {
    let (w, h) = (640u32, 480u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let dx = (x as f32 - 320.0) / 140.0;
        let dy = (y as f32 - 240.0) / 70.0;
        let spot = dx * dx + dy * dy < 1.0;
        let base = 200 - (y / 8) as u8 + (seed % 20) as u8;
        if spot {
            image::Rgb([base / 2 + 60, 60, 55])
        } else {
            image::Rgb([base, (base as f32 * 0.75) as u8, (base as f32 * 0.6) as u8])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

async fn demo_documents(
    conn: &mut sqlx::PgConnection,
    store: &dyn crate::domain::documents::Store,
    patient: i64,
    by: i64,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    use crate::domain::documents::repo::{NewDocument, insert};
    use crate::domain::documents::{MediaType, content};
    use sha2::Digest as _;
    let lab = demo_pdf(&[
        "Pokhara Diagnostic Lab - Complete blood count (demo)",
        "",
        "Haemoglobin      13.2 g/dL     (12.0 - 15.5)",
        "WBC              7,400 /uL     (4,000 - 11,000)",
        "Platelets        2.6 lakh/uL   (1.5 - 4.5)",
    ]);
    let photo = demo_photo(patient as u32);
    for (category, title, name, kind, bytes) in [
        ("lab", "CBC report", "cbc.pdf", MediaType::Pdf, lab),
        (
            "photo",
            "Wound photo",
            "IMG_0042.png",
            MediaType::Png,
            photo,
        ),
    ] {
        let thumb = content::thumbnail(&bytes, kind);
        let key = uuid::Uuid::new_v4().to_string();
        store.put_bytes(&key, &bytes).await?;
        if let Some(t) = &thumb {
            store
                .put_bytes(&format!("{key}.thumb.jpg"), &t.jpeg)
                .await?;
        }
        insert(
            conn,
            &NewDocument {
                patient_id: patient,
                visit_id: None,
                category,
                title,
                media_type: kind.as_str(),
                file_name: name,
                size_bytes: bytes.len() as i64,
                sha256: &hex::encode(sha2::Sha256::digest(&bytes)),
                storage_key: &key,
                thumb_bytes: thumb.as_ref().map(|t| t.jpeg.len() as i32),
                width: thumb.as_ref().map(|t| t.width as i32),
                height: thumb.as_ref().map(|t| t.height as i32),
                uploaded_by: Some(by),
                uploaded_at: at,
            },
        )
        .await?;
    }
    Ok(())
}

/// Fills a demo clinic once: time zone, hours, appointment types, providers' hours, a few
/// hundred patients, a week of appointments around `now`, and visits (with vitals, diagnoses
/// and notes; signed once completed) for the doctors' appointments seen so far. Does nothing
/// if it has patients.
pub async fn demo_clinic(
    db: &Db,
    tenant: &Tenant,
    tz: &str,
    now: DateTime<Utc>,
    store: &dyn crate::domain::documents::Store,
) -> anyhow::Result<bool> {
    let mut tx = TenantDb::begin(&db.pool, &tenant.db).await?;
    let existing: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM patients"#)
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE settings SET value = to_jsonb($1::text) WHERE key = 'timezone'",
        tz
    )
    .execute(&mut *tx)
    .await?;
    let zone: Tz = tz.parse().unwrap_or(Tz::UTC);
    let t = |h: u32, m: u32| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
    let mut open = Vec::new();
    for w in 1..=5 {
        open.push((w, t(8, 0), t(18, 0)));
    }
    open.push((6, t(9, 0), t(13, 0)));
    sched::replace_clinic_hours(&mut tx, &open).await?;
    let eye = crate::domain::visits::templates::Layout::parse(DEMO_EYE_TEMPLATE)
        .map_err(|e| anyhow::anyhow!("demo eye template: {e:?}"))?;
    let eye = crate::domain::visits::repo::save_template(
        &mut tx,
        None,
        "Eye examination",
        &eye,
        false,
        true,
    )
    .await?;
    for (name, minutes, color, template) in [
        ("Consultation", 20, "#1f6f8b", None),
        ("Follow-up", 15, "#2e7d32", None),
        ("Vaccination", 10, "#b54708", None),
        ("Health check", 30, "#6941c6", None),
        ("Minor procedure", 45, "#c11574", None),
        ("Eye check", 20, "#0e7490", eye),
    ] {
        sched::insert_type(&mut tx, name, minutes, color, template).await?;
    }
    let types = sched::types(&mut tx, false).await?;
    let staff = accounts::list(&mut tx, Accounts::Staff).await?;
    let providers: Vec<i64> = staff
        .iter()
        .filter(|u| u.role().is_some_and(Role::is_clinical))
        .map(|u| u.id)
        .collect();
    for (i, p) in providers.iter().enumerate() {
        let mut hours = Vec::new();
        for w in 1..=5 {
            hours.push((w, t(8, 30), t(12, 30)));
            hours.push((w, t(13, 30), t(17, 30)));
        }
        if i == 0 {
            hours.push((6, t(9, 0), t(12, 0)));
        }
        sched::replace_provider_hours(&mut tx, *p, &hours).await?;
    }
    let doctors: Vec<i64> = staff
        .iter()
        .filter(|u| u.role() == Some(Role::Doctor))
        .map(|u| u.id)
        .collect();
    let mut seen = Vec::new();
    let today = scheduling::local_date(zone, now);
    let mut rng = Rng::new(20_260_302 + tenant.id as u64);
    let mut ids = Vec::new();
    for _ in 0..300 {
        let input = sample_patient(&mut rng, today);
        let data = input
            .validate(today)
            .map_err(|e| anyhow::anyhow!("sample patient invalid: {e:?}"))?;
        ids.push(patients::insert(&mut tx, &data, None, now).await?.id);
    }
    // Appointments from a week ago to four days ahead: a week of visits, invoices, payments
    // and closed days behind today, and a booked week ahead.
    for offset in -7i64..=4 {
        let day = today + Duration::days(offset);
        for p in &providers {
            let rules = sched::day_rules(&mut tx, *p, day).await?;
            let intervals = slots::bookable(zone, day, &rules);
            let mut busy: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
            let step = Duration::minutes(15);
            for (s, e) in intervals {
                let mut at = s;
                while at < e {
                    let ty = &types[rng.below(types.len())];
                    let end = at + Duration::minutes(i64::from(ty.duration_minutes));
                    if end > e {
                        break;
                    }
                    if rng.chance(55) && !busy.iter().any(|(a, b)| at < *b && *a < end) {
                        let status = if end <= now {
                            if rng.chance(9) {
                                Status::NoShow
                            } else {
                                Status::Completed
                            }
                        } else if at <= now {
                            Status::InConsultation
                        } else if day == today && at - now < Duration::minutes(60) && rng.chance(50)
                        {
                            Status::Arrived
                        } else {
                            Status::Booked
                        };
                        let patient = ids[rng.below(ids.len())];
                        let id = sched::insert(
                            &mut tx,
                            patient,
                            Some(*p),
                            Some(ty.id),
                            at,
                            end,
                            Status::Booked,
                            false,
                            None,
                            None,
                            at - Duration::days(7),
                        )
                        .await?;
                        if matches!(status, Status::Completed | Status::InConsultation)
                            && doctors.contains(p)
                        {
                            seen.push((id, patient, *p, at, status == Status::Completed));
                        }
                        if status != Status::Booked {
                            let queue = if status == Status::Arrived {
                                let (ds, de) = slots::day_bounds(zone, day);
                                Some(sched::next_queue_number(&mut tx, ds, de).await?)
                            } else {
                                None
                            };
                            sched::set_status(&mut tx, id, status, queue, None, at.min(now))
                                .await?;
                        }
                        busy.push((at, end));
                        at = end;
                    } else {
                        at += step;
                    }
                }
            }
        }
    }
    // The drug list, what prints under the doctors' names and the letterhead.
    let mut drugs = Vec::new();
    for (generic, brands, strength, form, class, pack) in DEMO_DRUGS {
        let mut d = crate::domain::prescriptions::Drug {
            id: 0,
            generic_name: (*generic).to_owned(),
            brand_names: (*brands).to_owned(),
            strength: (*strength).to_owned(),
            form: (*form).to_owned(),
            drug_class: (*class).to_owned(),
            pack_ml: *pack,
            active: true,
        };
        d.id = crate::domain::prescriptions::repo::save_drug(&mut tx, None, &d)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo drug {generic} twice"))?;
        drugs.push(d);
    }
    for (i, doctor) in doctors.iter().enumerate() {
        crate::domain::prescriptions::repo::save_prescriber(
            &mut tx,
            *doctor,
            Some("MBBS, MD (General Practice)"),
            Some(&format!("NMC {}", 10_234 + i * 977)),
        )
        .await?;
    }
    crate::domain::settings::keys::LETTERHEAD_ADDRESS
        .set(
            &mut tx,
            &"Ward 4, Lakeside Road\nPokhara, Nepal".to_owned(),
            now,
        )
        .await?;
    crate::domain::settings::keys::LETTERHEAD_PHONE
        .set(&mut tx, &"+977 61 000000".to_owned(), now)
        .await?;
    for (key, value) in [
        (
            &crate::domain::settings::keys::LETTERHEAD_EMAIL,
            "desk@demo-polyclinic.example",
        ),
        (&crate::domain::settings::keys::TAX_NUMBER, "601234567"),
        (
            &crate::domain::settings::keys::REGISTRATION_NUMBER,
            "DHO-KSK-2081-117",
        ),
        (
            &crate::domain::settings::keys::LETTERHEAD_FOOTER,
            "Open Sunday to Friday 8:00–18:00 · Emergencies: call +977 61 000000",
        ),
    ] {
        key.set(&mut tx, &value.to_owned(), now).await?;
    }
    // A few documents: a lab report and a wound photo on the charts of the first patients seen.
    let mut with_documents = Vec::new();
    for (_, patient, doctor, at, _) in seen.iter().take(6) {
        if !with_documents.contains(patient) {
            with_documents.push(*patient);
            demo_documents(&mut tx, store, *patient, *doctor, *at).await?;
        }
    }
    // Visits once the appointments' statuses are set (a signed visit completes nothing more).
    for (appointment, patient, doctor, at, signed) in seen {
        demo_visit(
            &mut tx,
            &mut rng,
            patient,
            appointment,
            doctor,
            at,
            signed,
            zone,
            &drugs,
        )
        .await?;
    }
    let billing = staff
        .iter()
        .find(|u| u.role() == Some(Role::Billing))
        .map(|u| u.id);
    if let Some(cashier) = billing {
        demo_billing(&mut tx, &mut rng, zone, now, cashier).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The demo's price list, what each appointment type bills, and the visits of the days before
/// today billed and paid at the desk by the billing user, one closed cash shift a day. Today's
/// visits are left for the desk to bill.
async fn demo_billing(
    tx: &mut sqlx::PgConnection,
    rng: &mut Rng,
    zone: Tz,
    now: DateTime<Utc>,
    cashier: i64,
) -> anyhow::Result<()> {
    use crate::domain::billing::model::{Method, ServiceData, number};
    use crate::domain::billing::money::{self, LineIn};
    use crate::domain::billing::repo::{self as bill, Series};
    let mut services = Vec::new();
    for (code, name, category, price, tax_bp) in [
        ("CONS", "Consultation", "Consultation", 50_000, 0),
        ("FUP", "Follow-up consultation", "Consultation", 30_000, 0),
        (
            "VAC",
            "Vaccination (administration)",
            "Procedure",
            20_000,
            0,
        ),
        ("HC", "Health check package", "Package", 250_000, 0),
        ("PROC", "Minor procedure", "Procedure", 150_000, 1300),
        ("EYE", "Eye examination", "Consultation", 60_000, 0),
        ("CBC", "Complete blood count", "Laboratory", 45_000, 0),
        (
            "ECG",
            "Electrocardiogram (ECG)",
            "Diagnostics",
            80_000,
            1300,
        ),
        ("XR", "X-ray, chest", "Radiology", 120_000, 1300),
        ("DRS", "Dressing", "Procedure", 15_000, 0),
    ] {
        let id = bill::save_service(
            tx,
            None,
            &ServiceData {
                code: code.into(),
                name: name.into(),
                category: category.into(),
                price,
                tax_bp,
                active: true,
            },
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo service {code} twice"))?;
        services.push((id, code, name, price, tax_bp));
    }
    let by_type = [
        ("Consultation", "CONS"),
        ("Follow-up", "FUP"),
        ("Vaccination", "VAC"),
        ("Health check", "HC"),
        ("Minor procedure", "PROC"),
        ("Eye check", "EYE"),
    ];
    for (ty, code) in by_type {
        if let Some(s) = services.iter().find(|s| s.1 == code) {
            sqlx::query!(
                "UPDATE appointment_types SET service_id = $2 WHERE name = $1",
                ty,
                s.0
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    let cfg = bill::config(tx).await?;
    let today = scheduling::local_date(zone, now);
    let visits = sqlx::query!(
        r#"SELECT v.id, v.patient_id, v.clinician_id, v.started_at, t.service_id AS "service_id?"
             FROM visits v
             LEFT JOIN appointments a ON a.id = v.appointment_id
             LEFT JOIN appointment_types t ON t.id = a.type_id
            WHERE v.signed_at IS NOT NULL
            ORDER BY v.started_at"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let extras: Vec<_> = services
        .iter()
        .filter(|s| ["CBC", "ECG", "XR", "DRS"].contains(&s.1))
        .collect();
    let mut day_shift: Option<(NaiveDate, i64, DateTime<Utc>)> = None;
    for v in visits {
        let day = scheduling::local_date(zone, v.started_at);
        if day >= today {
            continue;
        }
        // The desk's shift of that day: opened at 8:00, closed at 18:00 with the cash counted.
        if day_shift.is_none_or(|(d, _, _)| d != day) {
            if let Some((d, id, closes)) = day_shift.take() {
                close_demo_day(tx, zone, d, id, closes, cashier).await?;
            }
            let (start, _) = slots::day_bounds(zone, day);
            let opens = start + Duration::hours(8);
            sqlx::query!(
                "INSERT INTO cash_shifts (cashier_id, opened_at, opening_float) VALUES ($1, $2, 200000)",
                cashier,
                opens
            )
            .execute(&mut *tx)
            .await?;
            let id = sqlx::query_scalar!(
                "SELECT id FROM cash_shifts WHERE cashier_id = $1 AND closed_at IS NULL",
                cashier
            )
            .fetch_one(&mut *tx)
            .await?;
            day_shift = Some((day, id, start + Duration::hours(18)));
        }
        let Some((_, shift, _)) = day_shift else {
            continue;
        };
        let at = v.started_at + Duration::minutes(25);
        let invoice = bill::create_invoice(
            tx,
            &bill::NewInvoice {
                kind: "invoice",
                patient: v.patient_id,
                visit: Some(v.id),
                credits: None,
                currency: cfg.currency.code,
            },
            at,
            Some(cashier),
        )
        .await?;
        let mut lines = Vec::new();
        let main = services
            .iter()
            .find(|s| Some(s.0) == v.service_id)
            .unwrap_or(&services[0]);
        lines.push(main);
        if rng.chance(35) {
            lines.push(extras[rng.below(extras.len())]);
        }
        let mut priced = Vec::new();
        let mut ids = Vec::new();
        for s in &lines {
            let l = bill::LineData {
                service_id: Some(s.0),
                credits_line_id: None,
                clinician_id: Some(v.clinician_id),
                code: s.1.into(),
                description: s.2.into(),
                quantity: 1,
                unit_price: s.3,
                tax_bp: s.4,
                discount: 0,
                discount_reason: String::new(),
            };
            ids.push(bill::add_line(tx, invoice, &l, at).await?);
            priced.push(LineIn {
                unit_price: s.3,
                quantity: 1,
                tax_bp: s.4,
                discount: 0,
            });
        }
        let t = money::totals(&priced, 0).map_err(|e| anyhow::anyhow!("demo invoice: {e:?}"))?;
        for (id, f) in ids.iter().zip(&t.lines) {
            bill::freeze_line(tx, *id, f).await?;
        }
        let fy = cfg.fiscal_start.year_of(day);
        let (seq, issued_at) = bill::take_number(tx, Series::Invoice, &fy, at).await?;
        let no = number(cfg.prefix(Series::Invoice), &fy, seq);
        bill::issue(
            tx,
            invoice,
            &bill::Issue {
                fiscal_year: &fy,
                seq,
                number: &no,
                gross: t.gross,
                net: t.net,
                tax: t.tax,
                total: t.total,
                at: issued_at,
                by: Some(cashier),
            },
        )
        .await?;
        // Most pay in full, by cash or a wallet; a few in two parts; some leave a balance.
        let parts: Vec<(Method, i64)> = match rng.below(10) {
            0 => Vec::new(),
            1 | 2 => vec![
                (Method::Cash, t.total / 2),
                (Method::Wallet, t.total - t.total / 2),
            ],
            3 | 4 => vec![(Method::Wallet, t.total)],
            5 => vec![(Method::Card, t.total)],
            _ => vec![(Method::Cash, t.total)],
        };
        for (k, (method, amount)) in parts.into_iter().enumerate() {
            let (seq, paid_at) = bill::take_number(
                tx,
                Series::Receipt,
                &fy,
                issued_at + Duration::minutes(k as i64 + 1),
            )
            .await?;
            let no = number(cfg.prefix(Series::Receipt), &fy, seq);
            let reference = if method == Method::Cash {
                String::new()
            } else {
                format!("TXN{}", 400_000 + rng.below(500_000))
            };
            let p = bill::insert_payment(
                tx,
                &bill::NewPayment {
                    kind: "receipt",
                    fiscal_year: &fy,
                    seq,
                    number: &no,
                    patient: v.patient_id,
                    method,
                    reference: &reference,
                    amount,
                    currency: cfg.currency.code,
                    refund_of: None,
                    reason: "",
                    shift: Some(shift),
                    at: paid_at,
                    by: Some(cashier),
                },
            )
            .await?;
            bill::allocate(tx, p, invoice, amount, paid_at, Some(cashier)).await?;
        }
    }
    if let Some((d, id, closes)) = day_shift {
        close_demo_day(tx, zone, d, id, closes, cashier).await?;
    }
    Ok(())
}

/// Closes a past demo day: its shift at `closes` with the cash counted as expected, then the
/// day itself, its totals frozen, five minutes later.
async fn close_demo_day(
    tx: &mut sqlx::PgConnection,
    zone: Tz,
    day: NaiveDate,
    shift: i64,
    closes: DateTime<Utc>,
    cashier: i64,
) -> anyhow::Result<()> {
    use crate::domain::billing::repo as bill;
    close_demo_shift(tx, shift, closes).await?;
    let (from, to) = slots::day_bounds(zone, day);
    let totals = bill::day_report(tx, from, to).await?;
    bill::close_day(
        tx,
        &bill::NewDayClose {
            day,
            starts_at: from,
            ends_at: to,
            at: closes + Duration::minutes(5),
            by: Some(cashier),
            totals: &totals,
            note: "",
        },
    )
    .await?;
    Ok(())
}

/// Closes a demo shift with the cash counted as expected, in notes (coins for the rest).
async fn close_demo_shift(
    tx: &mut sqlx::PgConnection,
    id: i64,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    use crate::domain::billing::model::DENOMINATIONS;
    use crate::domain::billing::repo as bill;
    let s = bill::shift(tx, id, true)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo shift {id} gone"))?;
    let mut left = s.expected_cash;
    let mut counted = std::collections::BTreeMap::new();
    for d in DENOMINATIONS {
        let n = left / (d * 100);
        if n > 0 {
            counted.insert(d.to_string(), n);
            left -= n * d * 100;
        }
    }
    if left > 0 {
        counted.insert("coins_minor".to_owned(), left);
    }
    bill::close_shift(
        tx,
        id,
        &bill::Close {
            counted: &counted,
            counted_cash: s.expected_cash,
            expected_cash: s.expected_cash,
            handed_to: None,
            note: "",
            at,
        },
    )
    .await?;
    Ok(())
}

/// Inserts `n` patients in batches straight in SQL (names from the lists above, skewed so that
/// common names are common). Calls `progress(done)` after each batch.
pub async fn bulk_patients(
    db: &Db,
    tenant: &Tenant,
    n: u64,
    progress: impl Fn(u64),
) -> anyhow::Result<StdDuration> {
    let started = Instant::now();
    let batch = 50_000u64;
    let mut done = 0u64;
    let now = crate::ops::clock::SystemClock.now();
    let seed = 0.42;
    while done < n {
        let k = batch.min(n - done);
        let mut tx = TenantDb::begin(&db.pool, &tenant.db).await?;
        sqlx::query_scalar!(
            "SELECT setseed($1)",
            seed - (done as f64 / n.max(1) as f64) * 0.4
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!("INSERT INTO patients (mrn, given_name, family_name, sex, birth_date, phones, phone_keys,
                                   preferred_language, created_at, updated_at)
             SELECT next_mrn(),
                    (CASE WHEN female THEN $2::text[] ELSE $3::text[] END)
                        [1 + floor(least(random(), random()) * CASE WHEN female THEN cardinality($2::text[]) ELSE cardinality($3::text[]) END)::int],
                    ($4::text[])[1 + floor(least(random(), random()) * cardinality($4::text[]))::int],
                    CASE WHEN female THEN 'female' ELSE 'male' END,
                    date '2026-01-01' - (30 + floor(random() * 31000))::int,
                    jsonb_build_array(jsonb_build_object('label', 'mobile', 'number', '+977 98' || digits)),
                    ARRAY[right(digits, 7)],
                    'Nepali', $5, $5
               FROM (SELECT random() < 0.52 AS female,
                            lpad(floor(random() * 100000000)::bigint::text, 8, '0') AS digits
                       FROM generate_series(1, $1)) g", k as i64, GIVEN_F as _, GIVEN_M as _, FAMILY as _, now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done += k;
        progress(done);
    }
    let mut tx = TenantDb::begin(&db.pool, &tenant.db).await?;
    sqlx::query!("ANALYZE patients").execute(&mut *tx).await?;
    sqlx::query!("ANALYZE name_words").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(started.elapsed())
}
