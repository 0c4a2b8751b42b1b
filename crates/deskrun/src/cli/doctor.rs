//! `deskrun doctor`: the engine's environment checks ([`deskrun::doctor`]) as a table or JSON.
//! Exits 1 when a check failed, so scripts and CI can gate on it; warnings do not count.

use std::fmt::Write;

use deskrun::doctor::{DoctorEnv, Report, Status};

use super::OutputFormat;
use super::output::print;

/// `deskrun doctor --help`, after the options.
pub const AFTER_HELP: &str = "\
Checks: the Docker daemon (DOCKER_HOST, the docker context, or the default socket; answers
GET /_ping), kind >= 0.20 and Helm >= 3.12, fs.inotify.max_user_watches >= 524288 and
max_user_instances >= 512, free disk in the data directory (warn below 20 GiB, fail below
5 GiB), cgroup v2, the OS keyring (stores, reads back and deletes a probe entry), and on the
session bus a notification service and a tray host (warnings only: the app needs them, the CLI
does not).

Exit codes:
  0  no check failed (warnings allowed)
  1  at least one check failed; each one says how to fix it
  2  the command line was wrong

JSON (--output json):
  {\"checks\": [{\"id\", \"title\", \"status\": \"pass\"|\"warn\"|\"fail\", \"message\",
  \"fix\": string or null}], \"summary\": {\"pass\", \"warn\", \"fail\"}}

Environment:
  DESKRUN_DOCTOR_ROOT  read proc/sys and sys/fs/cgroup under this directory instead of /";

pub async fn run(format: OutputFormat) -> anyhow::Result<()> {
    let report = deskrun::doctor::run(&DoctorEnv::from_env()).await;
    match format {
        OutputFormat::Json => print(&format!("{}\n", serde_json::to_string_pretty(&report)?))?,
        OutputFormat::Text => print(&render(&report))?,
    }
    let failed: Vec<&str> = report.failures().map(|check| check.id).collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{} check(s) failed ({}); each one's fix is in the report",
        failed.len(),
        failed.join(", ")
    );
    Ok(())
}

fn render(report: &Report) -> String {
    let width = report.checks.iter().map(|c| c.title.len()).max().unwrap_or(0);
    let mut out = String::new();
    for check in &report.checks {
        let status = match check.status {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        let _ = writeln!(out, "{status}  {:<width$}  {}", check.title, check.message);
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "{:<indent$}fix: {fix}", "", indent = width + 8);
        }
    }
    let summary = report.summary;
    let _ = writeln!(
        out,
        "\n{} passed, {} warned, {} failed",
        summary.pass, summary.warn, summary.fail
    );
    out
}
