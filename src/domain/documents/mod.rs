//! Documents on a patient's chart or a visit: PDF, JPEG and PNG files told apart by their
//! content, kept in the clinic's [`store::Store`] with a SHA-256 and (images) a thumbnail,
//! opened only through an audited read, deleted softly.

pub mod content;
pub mod model;
pub mod repo;
pub mod store;
pub mod work;

pub use content::MediaType;
pub use model::{CATEGORIES, Document, DocumentError, Limits, UploadInput};
pub use store::{Incoming, LocalStore, Store, WriteError};
