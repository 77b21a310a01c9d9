//! Roles, permissions and the one matrix that connects them.

use serde::{Deserialize, Serialize};

/// A clinic staff member's role. One per account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ClinicAdmin,
    Doctor,
    Nurse,
    Receptionist,
    Billing,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::ClinicAdmin,
        Role::Doctor,
        Role::Nurse,
        Role::Receptionist,
        Role::Billing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClinicAdmin => "clinic_admin",
            Self::Doctor => "doctor",
            Self::Nurse => "nurse",
            Self::Receptionist => "receptionist",
            Self::Billing => "billing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Clinicians can be booked as providers and write visit notes.
    pub fn is_clinical(self) -> bool {
        matches!(self, Self::Doctor | Self::Nurse)
    }

    pub fn can(self, p: Permission) -> bool {
        MATRIX
            .iter()
            .find(|(perm, _)| *perm == p)
            .is_some_and(|(_, roles)| roles.contains(&self))
    }

    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.can(*p))
            .collect()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    PatientsRead,
    PatientsWrite,
    AppointmentsRead,
    AppointmentsWrite,
    EncountersRead,
    EncountersWrite,
    EncountersSign,
    InvoicesRead,
    InvoicesWrite,
    InvoicesVoid,
    /// Refunds, and discounts above the clinic's limit.
    BillingManage,
    DocumentsRead,
    DocumentsWrite,
    UsersManage,
    SettingsManage,
    AuditRead,
    ReportsRead,
}

impl Permission {
    pub const ALL: [Permission; 17] = [
        Permission::PatientsRead,
        Permission::PatientsWrite,
        Permission::AppointmentsRead,
        Permission::AppointmentsWrite,
        Permission::EncountersRead,
        Permission::EncountersWrite,
        Permission::EncountersSign,
        Permission::InvoicesRead,
        Permission::InvoicesWrite,
        Permission::InvoicesVoid,
        Permission::BillingManage,
        Permission::DocumentsRead,
        Permission::DocumentsWrite,
        Permission::UsersManage,
        Permission::SettingsManage,
        Permission::AuditRead,
        Permission::ReportsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PatientsRead => "patients_read",
            Self::PatientsWrite => "patients_write",
            Self::AppointmentsRead => "appointments_read",
            Self::AppointmentsWrite => "appointments_write",
            Self::EncountersRead => "encounters_read",
            Self::EncountersWrite => "encounters_write",
            Self::EncountersSign => "encounters_sign",
            Self::InvoicesRead => "invoices_read",
            Self::InvoicesWrite => "invoices_write",
            Self::InvoicesVoid => "invoices_void",
            Self::BillingManage => "billing_manage",
            Self::DocumentsRead => "documents_read",
            Self::DocumentsWrite => "documents_write",
            Self::UsersManage => "users_manage",
            Self::SettingsManage => "settings_manage",
            Self::AuditRead => "audit_read",
            Self::ReportsRead => "reports_read",
        }
    }
}

use Role::{Billing as B, ClinicAdmin as A, Doctor as D, Nurse as N, Receptionist as R};

/// The permission matrix. docs/roles.md and the clinic's settings page show this table; a test
/// checks they agree.
pub const MATRIX: &[(Permission, &[Role])] = &[
    (Permission::PatientsRead, &[A, D, N, R, B]),
    (Permission::PatientsWrite, &[A, D, N, R]),
    (Permission::AppointmentsRead, &[A, D, N, R, B]),
    (Permission::AppointmentsWrite, &[A, D, N, R]),
    (Permission::EncountersRead, &[D, N]),
    (Permission::EncountersWrite, &[D, N]),
    (Permission::EncountersSign, &[D]),
    (Permission::InvoicesRead, &[A, R, B]),
    (Permission::InvoicesWrite, &[R, B]),
    (Permission::InvoicesVoid, &[A, B]),
    (Permission::BillingManage, &[A]),
    (Permission::DocumentsRead, &[A, D, N, R]),
    (Permission::DocumentsWrite, &[D, N, R]),
    (Permission::UsersManage, &[A]),
    (Permission::SettingsManage, &[A]),
    (Permission::AuditRead, &[A]),
    (Permission::ReportsRead, &[A, B]),
];

/// Who must use a second factor, a clinic setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    #[default]
    Optional,
    Admins,
    Everyone,
}

impl MfaPolicy {
    pub fn requires(self, role: Role) -> bool {
        match self {
            Self::Optional => false,
            Self::Admins => role == Role::ClinicAdmin,
            Self::Everyone => true,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Admins => "admins",
            Self::Everyone => "everyone",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Optional, Self::Admins, Self::Everyone]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// An email address used as a login name: trimmed, lowercased, one `@`, no spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let e = s.trim().to_lowercase();
        let valid = e.len() <= 254
            && e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            })
            && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(e))
        } else {
            Err("invalid.email")
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Staff names as shown in lists and the audit viewer.
pub fn parse_display_name(s: &str) -> Result<String, &'static str> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 120 || t.chars().any(char::is_control) {
        Err("invalid.display_name")
    } else {
        Ok(t.to_owned())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// An API token's reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum TokenScope {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "read-write")]
    ReadWrite,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read-write",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "read-write" => Some(Self::ReadWrite),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_is_in_the_matrix_once() {
        for p in Permission::ALL {
            assert_eq!(MATRIX.iter().filter(|(q, _)| *q == p).count(), 1, "{p:?}");
        }
        assert_eq!(MATRIX.len(), Permission::ALL.len());
    }

    #[test]
    fn a_few_rules_that_must_hold() {
        assert!(Role::ClinicAdmin.can(Permission::UsersManage));
        assert!(!Role::Doctor.can(Permission::UsersManage));
        assert!(Role::Doctor.can(Permission::EncountersSign));
        assert!(!Role::Nurse.can(Permission::EncountersSign));
        assert!(!Role::Receptionist.can(Permission::EncountersRead));
        assert!(!Role::Billing.can(Permission::PatientsWrite));
        assert!(Role::ClinicAdmin.can(Permission::AuditRead));
        assert!(!Role::Billing.can(Permission::BillingManage));
        assert!(Role::Doctor.is_clinical() && !Role::Billing.is_clinical());
    }

    #[test]
    fn docs_roles_md_shows_the_matrix() {
        let doc = include_str!("../../../docs/roles.md");
        for (p, roles) in MATRIX {
            let line = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}`", p.as_str())))
                .unwrap_or_else(|| panic!("docs/roles.md lacks a row for {}", p.as_str()));
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | perm | clinic_admin | doctor | nurse | receptionist | billing |
            for (i, r) in Role::ALL.iter().enumerate() {
                let expected = if roles.contains(r) { "✓" } else { "" };
                assert_eq!(cells[2 + i], expected, "{} for {}", p.as_str(), r.as_str());
            }
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Dr.Who@Clinic.ORG ").unwrap().as_str(),
            "dr.who@clinic.org"
        );
        for bad in ["", "a", "a@b", "@b.org", "a@.org", "a b@c.org", "a@b.org."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
