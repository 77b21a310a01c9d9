//! `clinicbox check`: the installation's health in one place, one line per check, each
//! failure with the sentence that fixes it. `check --remote URL` looks at a running server
//! from outside (TLS, redirect, headers, API authentication).

pub mod local;
pub mod remote;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub level: Level,
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn ok(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Level::Ok, detail);
    }
    pub fn warn(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Level::Warn, detail);
    }
    pub fn fail(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Level::Fail, detail);
    }
    fn push(&mut self, name: &str, level: Level, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.to_owned(),
            level,
            detail: detail.into(),
        });
    }

    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.level == Level::Fail)
    }

    pub fn warnings(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.level == Level::Warn)
            .count()
    }

    /// One line per check: `OK   name  detail`.
    pub fn render(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            let tag = match c.level {
                Level::Ok => "OK  ",
                Level::Warn => "WARN",
                Level::Fail => "FAIL",
            };
            out.push_str(&format!("{tag} {:<width$}  {}\n", c.name, c.detail));
        }
        let fails = self
            .checks
            .iter()
            .filter(|c| c.level == Level::Fail)
            .count();
        out.push_str(&format!(
            "{} checks: {} failed, {} warning(s)\n",
            self.checks.len(),
            fails,
            self.warnings()
        ));
        out
    }
}
