//! `qem audit-trail export`: the audit trail for a time range.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::app::App;
use crate::error::{Error, Result};
use crate::qem::client::QemClient;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Export the audit trail (JSON) for a time range.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Start: UTC time (2024-03-14T10:06:10[Z]) or a duration ago (24h, 7d).
    #[arg(long)]
    pub since: String,
    /// End: UTC time or a duration ago (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `yyyy-MM-ddTHH:mm:ssZ` from a timestamp or a duration ago.
pub(super) fn timestamp(text: &str) -> Result<String> {
    use time::format_description::well_known::Rfc3339;
    let t = text.trim();
    if let Ok(d) = crate::duration::parse(t) {
        let at = time::OffsetDateTime::now_utc() - d;
        return Ok(format_utc(at));
    }
    let with_zone = if t.ends_with('Z') || t.contains('+') {
        t.to_string()
    } else {
        format!("{t}Z")
    };
    let with_time = if with_zone.len() == 11 {
        with_zone.replace('Z', "T00:00:00Z")
    } else {
        with_zone
    };
    time::OffsetDateTime::parse(&with_time, &Rfc3339)
        .map(|at| format_utc(at.to_offset(time::UtcOffset::UTC)))
        .map_err(|_| {
            Error::usage(format!("`{text}` is not a time"))
                .with_hint("use UTC like 2024-03-14T10:06:10, a date like 2024-03-14, or a duration ago like 24h")
        })
}

fn format_utc(at: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

pub(super) fn run(cmd: &AuditCommand, app: &App, client: &QemClient) -> Result<u8> {
    match cmd {
        AuditCommand::Export(a) => {
            let start = timestamp(&a.since)?;
            let end = a.until.as_deref().map(timestamp).transpose()?;
            let bytes =
                app.block_on(async { Ok(client.audit_trail(&start, end.as_deref()).await?) })?;
            super::server::write_out(app, a.out.as_deref(), &bytes)?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_normalized() {
        assert_eq!(
            timestamp("2024-03-14T10:06:10").unwrap(),
            "2024-03-14T10:06:10Z"
        );
        assert_eq!(timestamp("2024-03-14").unwrap(), "2024-03-14T00:00:00Z");
        assert!(timestamp("24h").unwrap().ends_with('Z'));
        assert!(timestamp("yesterday").is_err());
    }
}
