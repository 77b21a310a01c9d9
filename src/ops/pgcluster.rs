//! A private PostgreSQL cluster in a directory, for `clinicbox demo` and the test harness.
//!
//! It listens only on a unix socket inside the directory. When clinicbox runs as root, the
//! cluster runs as the `postgres` system user (PostgreSQL refuses root). The server is started
//! by a small shell watchdog in its own process group: Ctrl-C on the terminal does not reach it
//! (clinicbox stops it cleanly), and it shuts down by itself if the process that started it dies.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ops::pgtools::{self, PgToolError};

pub const PORT: u16 = 5432;
pub const SUPERUSER: &str = "postgres";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Tool(#[from] PgToolError),
    #[error(
        "running as root, but there is no `postgres` system user to run PostgreSQL as; install the Debian package `postgresql` or run as a normal user"
    )]
    NoPostgresUser,
    #[error(
        "the `postgres` system user cannot reach {0} (a parent directory is private, e.g. /root); use a directory it can reach"
    )]
    Unreachable(PathBuf),
    #[error(
        "a PostgreSQL server is already running in {0}; stop the other clinicbox demo first or remove the directory"
    )]
    AlreadyRunning(PathBuf),
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("PostgreSQL did not become ready within {0:?}; see {1}")]
    Timeout(Duration, PathBuf),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterOptions {
    /// fsync off and friends: for throwaway test clusters only.
    pub unsafe_fast: bool,
}

/// The system user PostgreSQL runs as, when it is not the current user.
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: nix::unistd::Uid,
    gid: nix::unistd::Gid,
}

#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    root: PathBuf,
    run_as: Option<RunAs>,
    opts: ClusterOptions,
    child: Option<Child>,
}

impl PgCluster {
    /// Prepares `root/data` and `root/run`. Nothing is started yet.
    pub fn new(root: &Path, opts: ClusterOptions) -> Result<Self, ClusterError> {
        let bin = pgtools::server_bin_dir()?;
        let run_as = if nix::unistd::geteuid().is_root() {
            let u = nix::unistd::User::from_name(SUPERUSER)
                .ok()
                .flatten()
                .ok_or(ClusterError::NoPostgresUser)?;
            Some(RunAs {
                name: u.name,
                uid: u.uid,
                gid: u.gid,
            })
        } else {
            None
        };
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let c = Self {
            bin,
            root,
            run_as,
            opts,
            child: None,
        };
        c.prepare_dirs()?;
        Ok(c)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("postgresql.log")
    }

    /// A URL for `user` on database `db` over the private socket.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgres:///{db}?host={}&port={PORT}&user={user}",
            self.socket_dir().display()
        )
    }

    pub fn superuser_url(&self, db: &str) -> String {
        self.url(SUPERUSER, db)
    }

    fn prepare_dirs(&self) -> Result<(), ClusterError> {
        use std::os::unix::fs::PermissionsExt;
        for d in [self.data_dir(), self.socket_dir()] {
            std::fs::create_dir_all(&d)?;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))?;
        }
        if let Some(r) = &self.run_as {
            // root stays the owner of the top directory; postgres must be able to pass through it.
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o711))?;
            for d in [self.data_dir(), self.socket_dir()] {
                std::os::unix::fs::chown(&d, Some(r.uid.as_raw()), Some(r.gid.as_raw()))?;
            }
            let log = self.log_file();
            if !log.exists() {
                std::fs::write(&log, b"")?;
            }
            std::os::unix::fs::chown(&log, Some(r.uid.as_raw()), Some(r.gid.as_raw()))?;
            let ok = self
                .command("test")
                .arg("-w")
                .arg(self.socket_dir())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success();
            if !ok {
                return Err(ClusterError::Unreachable(self.root.clone()));
            }
        }
        Ok(())
    }

    /// A command that runs as the cluster's user.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.run_as {
            Some(r) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(&r.name).arg("--").arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn run(&self, what: &str, cmd: &mut Command) -> Result<(), ClusterError> {
        let out = cmd.stdin(Stdio::null()).output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(ClusterError::Command {
                what: what.to_owned(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").exists()
    }

    /// `initdb` unless the data directory already holds a cluster. Returns whether it ran.
    pub fn init_if_needed(&self) -> Result<bool, ClusterError> {
        if self.is_initialized() {
            return Ok(false);
        }
        let mut cmd = self.command(self.bin.join("initdb"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-U")
            .arg(SUPERUSER)
            .arg("--auth=trust")
            .arg("--encoding=UTF8")
            .arg("--locale=C.UTF-8");
        if self.opts.unsafe_fast {
            cmd.arg("--no-sync");
        }
        self.run("initdb", &mut cmd)?;
        Ok(true)
    }

    fn is_ready(&self) -> bool {
        let mut cmd = Command::new(self.bin.join("pg_isready"));
        cmd.arg("-q")
            .arg("-h")
            .arg(self.socket_dir())
            .arg("-p")
            .arg(PORT.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd.status().map(|s| s.success()).unwrap_or(false)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&mut self) -> Result<(), ClusterError> {
        if self.is_ready() {
            return Err(ClusterError::AlreadyRunning(self.root.clone()));
        }
        let mut settings = vec![
            "listen_addresses=".to_owned(),
            "max_connections=200".to_owned(),
            "shared_buffers=128MB".to_owned(),
            "log_min_messages=warning".to_owned(),
        ];
        if self.opts.unsafe_fast {
            settings.extend(
                [
                    "fsync=off",
                    "synchronous_commit=off",
                    "full_page_writes=off",
                ]
                .map(str::to_owned),
            );
        }
        let mut postgres = format!("exec \"$1\" -D \"$2\" -k \"$3\" -p {PORT}");
        for s in &settings {
            postgres.push_str(&format!(" -c '{s}'"));
        }
        // The watchdog stops the server when the parent process disappears.
        let script = format!(
            "( {postgres} ) >>\"$4\" 2>&1 & pg=$!
             trap 'kill -INT $pg 2>/dev/null' TERM INT HUP
             while [ -d \"/proc/$5\" ] && kill -0 $pg 2>/dev/null; do sleep 1; done
             kill -INT $pg 2>/dev/null
             wait $pg"
        );
        let mut cmd = self.command("sh");
        cmd.arg("-c")
            .arg(script)
            .arg("sh")
            .arg(self.bin.join("postgres"))
            .arg(self.data_dir())
            .arg(self.socket_dir())
            .arg(self.log_file())
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        self.child = Some(cmd.spawn()?);
        let timeout = Duration::from_secs(60);
        let started = Instant::now();
        while !self.is_ready() {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(ClusterError::Command {
                    what: "postgres".into(),
                    detail: format!("exited with {status}; see {}", self.log_file().display()),
                });
            }
            if started.elapsed() > timeout {
                return Err(ClusterError::Timeout(timeout, self.log_file()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Fast shutdown (clients are disconnected, nothing is lost) and wait for the watchdog.
    pub fn stop(&mut self) -> Result<(), ClusterError> {
        if self.child.is_none() {
            return Ok(());
        }
        let mut cmd = self.command(self.bin.join("pg_ctl"));
        cmd.arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-m")
            .arg("fast")
            .arg("-w")
            .arg("-t")
            .arg("60");
        let result = self.run("pg_ctl stop", &mut cmd);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        result
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Creates the application's login role and database as the architecture requires, and runs
/// the superuser part of the setup in it (`db::privileged`): the role is NOINHERIT (it reaches
/// clinic tables only by switching role), CREATEDB (`backup verify` restores into a scratch
/// database) and without CREATEROLE (clinic roles come from `clinicbox_priv`; the audit logs'
/// owner stays out of its reach). `role` and `db` must be plain identifiers.
pub async fn provision_app_database(
    superuser: &sqlx::PgPool,
    role: &crate::domain::tenants::Ident,
    db: &crate::domain::tenants::Ident,
) -> Result<(), sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role.as_str())
            .fetch_one(superuser)
            .await?;
    // An existing role (a demo cluster from an older release) gets the attributes too.
    let ddl = if exists {
        format!(
            "ALTER ROLE {} NOINHERIT NOCREATEROLE CREATEDB",
            role.quoted()
        )
    } else {
        format!("CREATE ROLE {} LOGIN NOINHERIT CREATEDB", role.quoted())
    };
    sqlx::raw_sql(&ddl).execute(superuser).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(db.as_str())
            .fetch_one(superuser)
            .await?;
    if !exists {
        sqlx::raw_sql(&format!(
            "CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'",
            db.quoted(),
            role.quoted()
        ))
        .execute(superuser)
        .await?;
    }
    let in_db = crate::db::pool_options(1)
        .connect_with(
            superuser
                .connect_options()
                .as_ref()
                .clone()
                .database(db.as_str()),
        )
        .await?;
    let result = crate::db::privileged::run(&in_db, role).await;
    in_db.close().await;
    result
}
