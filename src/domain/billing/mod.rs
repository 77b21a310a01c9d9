//! Billing: the price list, invoices and credit notes with gap-free numbers per fiscal year,
//! payments, deposits and refunds with receipt numbers, prints of each (A4, A5, 80 mm), and the
//! cash desk's shifts and day report. Money is whole minor units (see [`money`]).

pub mod model;
pub mod money;
pub mod repo;
pub mod work;

pub use model::{
    Invoice, Method, Payment, PaymentInput, Service, ServiceInput, Shift, State, Status,
};
pub use work::BillingError;
