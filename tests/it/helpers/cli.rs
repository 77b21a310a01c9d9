//! Running the real `clinicbox` binary.

use std::path::{Path, PathBuf};
use std::process::Output;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_clinicbox"))
}

/// Runs `clinicbox --config <config> <args>` with a clean CLINICBOX_* environment.
pub fn run(config: &Path, args: &[&str]) -> Output {
    run_env(config, args, &[])
}

pub fn run_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("CLINICBOX_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--config").arg(config).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run clinicbox")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A config file for a test database.
pub fn write_config(dir: &Path, url: &str, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("clinicbox.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"{url}\"\n[server]\nbase_domain = \"{}\"\nconsole_host = \"{}\"\nhttp_listen = \"127.0.0.1:0\"\n[tls]\nmode = \"off\"\n[storage]\ndata_dir = \"{}\"\nkey_file = \"{}\"\n{extra}",
            super::BASE,
            super::CONSOLE,
            dir.join("data").display(),
            dir.join("secret.key").display()
        ),
    )
    .unwrap();
    path
}
