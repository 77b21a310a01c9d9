//! Field-level validation messages, shared by forms (shown next to inputs) and the API
//! (`errors` in problem+json).

use std::collections::BTreeMap;

/// Messages per field; `_form` for the input as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Errors(BTreeMap<&'static str, String>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the first message for a field.
    pub fn add(&mut self, field: &'static str, msg: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| msg.into());
    }

    pub fn with(field: &'static str, msg: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, msg);
        e
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any message belongs to a field (not only to the form as a whole, `_form`).
    pub fn has_field_errors(&self) -> bool {
        self.0.keys().any(|k| *k != "_form")
    }

    pub fn as_map(&self) -> &BTreeMap<&'static str, String> {
        &self.0
    }

    /// Adds `other`'s messages (a part checked on its own), keeping the first per field.
    pub fn absorb(&mut self, other: Errors) {
        for (k, m) in other.0 {
            self.add(k, m);
        }
    }

    /// `Ok(value)` when nothing was added.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}
