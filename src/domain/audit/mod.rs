//! Audit logs: one per clinic (`tenant_<slug>_audit.audit_log`) and one for the installation
//! (`clinicbox_audit.audit_log`), both owned by a role the application cannot become. Rows
//! are appended inside the transaction of the action they describe; a keyed chain over them
//! (`chain`) shows any later change.
//!
//! Details never hold patient data: field names that changed, counts, reasons — not values.

pub mod chain;
mod repo;
pub mod transfer;
pub mod work;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use chain::{Head, LogId, VerifyReport};
pub use repo::{
    AuditFilter, AuditRow, prune, query, record, record_system, seal_clinic, seal_system,
    take_written, verify_system, verify_tenant,
};

/// Action names, so that the same event is always spelt the same way.
pub mod action {
    pub const LOGIN: &str = "auth.login";
    pub const LOGIN_FAILED: &str = "auth.login_failed";
    pub const LOCKED: &str = "auth.locked";
    pub const LOGOUT: &str = "auth.logout";
    pub const SESSION_REFUSED: &str = "auth.session_refused";
    pub const MFA_ENROLLED: &str = "auth.mfa_enrolled";
    pub const MFA_DISABLED: &str = "auth.mfa_disabled";
    pub const MFA_FAILED: &str = "auth.mfa_failed";
    pub const RECOVERY_CODE_USED: &str = "auth.recovery_code_used";
    pub const PASSWORD_CHANGED: &str = "auth.password_changed";
    pub const TOKEN_CREATED: &str = "token.create";
    pub const TOKEN_REVOKED: &str = "token.revoke";
    pub const TOKEN_REFUSED: &str = "auth.token_refused";
    pub const ACCESS_DENIED: &str = "access.denied";
    pub const USER_CREATED: &str = "user.create";
    pub const USER_UPDATED: &str = "user.update";
    pub const USER_PASSWORD_RESET: &str = "user.password_reset";
    pub const USER_UNLOCKED: &str = "user.unlock";
    pub const USER_MFA_RESET: &str = "user.mfa_reset";
    pub const USER_LIST: &str = "user.list";
    pub const SETTINGS_UPDATED: &str = "settings.update";
    pub const AUDIT_VIEW: &str = "audit.view";
    pub const AUDIT_EXPORT: &str = "audit.export";
    pub const AUDIT_PRUNED: &str = "audit.prune";
    pub const AUDIT_VERIFIED: &str = "audit.verify";
    pub const TENANT_CREATED: &str = "tenant.create";
    pub const TENANT_STATUS: &str = "tenant.status";
    pub const TENANT_DELETED: &str = "tenant.delete";
    pub const TENANT_HOST_ADDED: &str = "tenant.host_add";
    pub const TENANT_HOST_REMOVED: &str = "tenant.host_remove";
    pub const OPERATOR_CREATED: &str = "operator.create";
    pub const SETUP_LINK: &str = "operator.setup_link";
    pub const CERT_RENEW: &str = "cert.renew";
    pub const CERT_ISSUED: &str = "cert.issue";
    pub const BACKUP_CREATED: &str = "backup.create";
    pub const BACKUP_VERIFIED: &str = "backup.verify";
    pub const BACKUP_RESTORED: &str = "backup.restore";
    pub const TENANT_EXPORTED: &str = "tenant.export";
    pub const CODES_IMPORTED: &str = "codes.import";
    pub const PATIENT_SEARCH: &str = "patient.search";
    pub const PATIENT_VIEW: &str = "patient.view";
    pub const PATIENT_CREATED: &str = "patient.create";
    pub const PATIENT_UPDATED: &str = "patient.update";
    pub const PATIENT_DELETED: &str = "patient.delete";
    pub const PATIENT_RESTORED: &str = "patient.restore";
    pub const PATIENT_APPOINTMENTS: &str = "patient.appointments_view";
    pub const APPOINTMENT_CREATED: &str = "appointment.create";
    pub const APPOINTMENT_VIEW: &str = "appointment.view";
    /// The booking form, which shows the patient it books for.
    pub const APPOINTMENT_FORM: &str = "appointment.booking_form";
    pub const APPOINTMENT_MOVED: &str = "appointment.reschedule";
    pub const APPOINTMENT_STATUS: &str = "appointment.status";
    pub const APPOINTMENT_CANCELLED: &str = "appointment.cancel";
    pub const SCHEDULE_VIEW: &str = "schedule.view";
    pub const VISIT_STARTED: &str = "visit.start";
    pub const VISIT_VIEW: &str = "visit.view";
    pub const VISIT_UPDATED: &str = "visit.update";
    pub const VISIT_SIGNED: &str = "visit.sign";
    pub const VISIT_AMENDED: &str = "visit.amend";
    pub const VISIT_LIST: &str = "visit.list";
    pub const VITALS_RECORDED: &str = "vitals.record";
    pub const DIAGNOSIS_ADDED: &str = "visit.diagnosis_add";
    pub const DIAGNOSIS_REMOVED: &str = "visit.diagnosis_remove";
    pub const PROBLEM_RESOLVED: &str = "problem.resolve";
    pub const SCHEDULING_SETTINGS: &str = "settings.scheduling";
    pub const RX_ITEM_ADDED: &str = "prescription.item_add";
    pub const RX_ITEM_REMOVED: &str = "prescription.item_remove";
    pub const RX_SET_APPLIED: &str = "prescription.set_apply";
    pub const RX_SET_SAVED: &str = "prescription.set_save";
    pub const RX_SET_DELETED: &str = "prescription.set_delete";
    pub const RX_PRINTED: &str = "prescription.print";
    pub const RX_VIEW: &str = "prescription.view";
    pub const DRUG_SETTINGS: &str = "settings.drugs";
    pub const BRANDING_SETTINGS: &str = "settings.branding";
    pub const NOTE_TEMPLATE_SETTINGS: &str = "settings.note_templates";
    pub const PRESCRIBER_SETTINGS: &str = "settings.prescriber";
    pub const DOCUMENT_UPLOADED: &str = "document.upload";
    pub const DOCUMENT_VIEWED: &str = "document.view";
    pub const DOCUMENT_DELETED: &str = "document.delete";
    pub const DOCUMENTS_LISTED: &str = "document.list";
    pub const DOCUMENT_SETTINGS: &str = "settings.documents";
    pub const SERVICE_SETTINGS: &str = "settings.services";
    pub const BILLING_SETTINGS: &str = "settings.billing";
    pub const INVOICE_CREATED: &str = "invoice.create";
    pub const INVOICE_VIEW: &str = "invoice.view";
    pub const INVOICE_LIST: &str = "invoice.list";
    pub const INVOICE_UPDATED: &str = "invoice.update";
    pub const INVOICE_ISSUED: &str = "invoice.issue";
    pub const INVOICE_DISCOUNT_APPROVED: &str = "invoice.approve_discount";
    pub const INVOICE_DISCARDED: &str = "invoice.discard";
    pub const INVOICE_CANCELLED: &str = "invoice.cancel";
    pub const INVOICE_CREDITED: &str = "invoice.credit_note";
    pub const INVOICE_PRINTED: &str = "invoice.print";
    pub const PAYMENT_RECEIVED: &str = "payment.receive";
    pub const CREDIT_APPLIED: &str = "payment.apply_credit";
    pub const PAYMENT_REFUNDED: &str = "payment.refund";
    pub const PAYMENT_VIEW: &str = "payment.view";
    pub const PAYMENT_PRINTED: &str = "payment.print";
    pub const BILLING_DESK: &str = "billing.desk";
    pub const SHIFT_OPENED: &str = "shift.open";
    pub const SHIFT_CLOSED: &str = "shift.close";
    pub const SHIFT_VIEW: &str = "shift.view";
    pub const DAY_CLOSED: &str = "day.close";
    pub const REPORT_VIEW: &str = "report.view";
    pub const REPORT_EXPORT: &str = "report.export";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Actor {
    User(i64),
    Operator(i64),
    System,
    Anonymous,
}

impl Actor {
    fn parts(self) -> (&'static str, Option<i64>) {
        match self {
            Self::User(id) => ("user", Some(id)),
            Self::Operator(id) => ("operator", Some(id)),
            Self::System => ("system", None),
            Self::Anonymous => ("anonymous", None),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }
}

/// Where and when: the request's client address and id, and the (injected) time.
#[derive(Clone, Debug)]
pub struct Context {
    pub at: DateTime<Utc>,
    pub ip: Option<IpAddr>,
    pub request_id: Option<String>,
}

impl Context {
    pub fn system(at: DateTime<Utc>) -> Self {
        Self {
            at,
            ip: None,
            request_id: None,
        }
    }
}

/// One audited action.
#[derive(Clone, Debug)]
pub struct Event {
    pub action: &'static str,
    pub actor: Actor,
    pub outcome: Outcome,
    pub resource_type: Option<&'static str>,
    pub resource_id: Option<String>,
    pub patient_id: Option<i64>,
    pub details: serde_json::Value,
}

impl Event {
    pub fn new(action: &'static str, actor: Actor) -> Self {
        Self {
            action,
            actor,
            outcome: Outcome::Success,
            resource_type: None,
            resource_id: None,
            patient_id: None,
            details: serde_json::json!({}),
        }
    }

    pub fn outcome(mut self, o: Outcome) -> Self {
        self.outcome = o;
        self
    }

    pub fn resource(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.resource_type = Some(kind);
        self.resource_id = Some(id.to_string());
        self
    }

    pub fn patient(mut self, id: i64) -> Self {
        self.patient_id = Some(id);
        self
    }

    pub fn details(mut self, d: serde_json::Value) -> Self {
        self.details = d;
        self
    }
}
