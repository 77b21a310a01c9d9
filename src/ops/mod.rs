//! Operations: clock, logging, PostgreSQL tools and private clusters, shutdown.

pub mod audit_sealer;
pub mod backup;
pub mod check;
pub mod clock;
pub mod compliance;
pub mod dashboard;
pub mod keycheck;
pub mod logfile;
pub mod metrics;
pub mod pgcluster;
pub mod pgtools;
pub mod secrets;
pub mod seed;
pub mod shutdown;
pub mod systemd;
pub mod telemetry;
