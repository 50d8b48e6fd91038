//! `list`, `show` and `validate`: the scenario catalog and scenario files.

use std::io::Write;

use scenarios::{Overrides, catalog};
use tabled::settings::Style;
use tabled::{Table, Tabled};

use crate::args::{ShowArgs, ValidateArgs};
use crate::error::CliError;

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "NAME")]
    name: &'static str,
    #[tabled(rename = "VUS")]
    vus: u32,
    #[tabled(rename = "DURATION")]
    duration: String,
    #[tabled(rename = "DESCRIPTION")]
    description: String,
}

/// `scan-bench list`: the catalog as a table.
pub fn list(out: &mut dyn Write) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for entry in catalog::ENTRIES {
        let s = entry.source()?.resolve(&Overrides::default())?;
        let profile = s.load.duration();
        let duration = if s.time_scale == 1.0 {
            scenarios::duration::format(profile)
        } else {
            let wall = profile.mul_f64(s.time_scale);
            format!(
                "{} (x{} of {})",
                scenarios::duration::format(round_to_secs(wall)),
                s.time_scale,
                scenarios::duration::format(profile)
            )
        };
        rows.push(Row {
            name: entry.name,
            vus: s.load.peak_vus(),
            duration,
            description: s.description,
        });
    }
    let mut table = Table::new(rows);
    table.with(Style::sharp());
    writeln!(out, "{table}")?;
    Ok(())
}

fn round_to_secs(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.as_secs_f64().round() as u64)
}

/// `scan-bench show NAME`: the scenario as TOML with every default spelled out, secrets
/// redacted (its output ends up in logs; `{{env:NAME}}` placeholders show as written).
pub fn show(args: &ShowArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let scenario = scenarios::open(&args.scenario)?.resolve(&Overrides::default())?;
    write!(out, "{}", scenario.redacted().to_toml())?;
    Ok(())
}

/// `scan-bench validate FILE...`: every file is checked; the first bad one decides the exit
/// code, and all errors are printed.
pub fn validate(args: &ValidateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut failures = Vec::new();
    for file in &args.files {
        match scenarios::open(file).and_then(|s| s.resolve(&Overrides::default())) {
            Ok(scenario) => writeln!(out, "ok: {file} ({})", scenario.name)?,
            Err(e) => failures.push(e),
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0).into()),
        _ => Err(CliError::Many(
            failures.into_iter().map(CliError::from).collect(),
        )),
    }
}
