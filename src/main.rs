//! `clinicbox <command>`: parsing and dispatch live in the library (`clinicbox::cli`).

fn main() -> std::process::ExitCode {
    clinicbox::cli::main()
}
