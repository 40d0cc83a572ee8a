use std::path::Path;

use crate::checking::outcome::RunReport;

/// Writes the report as JSON: `{"summary": {...}, "checks": [...], ...}`.
pub fn write_json(report: &RunReport, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}
