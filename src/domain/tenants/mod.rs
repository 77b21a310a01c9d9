//! Clinics (tenants): creation with their own schema and role, lookup by host, lifecycle.

pub mod model;
mod repo;
mod service;

pub use model::{
    Branding, DisplayName, Hostname, Ident, NameError, Slug, Tenant, TenantIdent, TenantStatus,
};
pub use service::{
    HostRules, NewTenant, Site, TenantError, TenantSummary, add_host_in, create,
    create_clinic_role, delete, drop_clinic_role, find, finish_restore, list, prepare_restore,
    remove_host_in, resolve_host, set_status, set_status_in,
};
