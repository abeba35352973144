//! `GET /api/devices/export`: every stored device as JSON or CSV, in the import's format.
//!
//! Passwords are left out unless `secrets=true` is asked for; only an export with secrets can
//! be imported again (the import refuses rows without a password rather than blanking them).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use super::extract::{Json, Query};
use super::import::COLUMNS;
use super::state::AppState;
use crate::admin_api::{ExportQuery, Format};
use crate::device::LoginProtocol;
use crate::device::labels::join_tags;
use crate::store::DeviceRecord;

/// One exported device: exactly the fields an import accepts (a row of the export file, which
/// the client saves as it is).
#[derive(Debug, Serialize)]
struct Exported<'a> {
    id: &'a str,
    username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    login_protocol: LoginProtocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
}

/// `GET /api/devices/export?format=json|csv&secrets=true|false`.
pub(super) async fn export(
    State(state): State<AppState>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let mut records = state.gateway().export_devices().await?;
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let rows: Vec<Exported<'_>> = records.iter().map(|r| exported(r, query.secrets)).collect();
    if query.secrets {
        tracing::info!(count = rows.len(), "devices exported with their passwords");
    }
    let mut response = match query.format {
        Format::Json => Json(rows).into_response(),
        Format::Csv => {
            let body = csv(&rows, query.secrets)?;
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
        }
    };
    let headers = response.headers_mut();
    let file = match query.format {
        Format::Json => "attachment; filename=\"homeport-devices.json\"",
        Format::Csv => "attachment; filename=\"homeport-devices.csv\"",
    };
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(file));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn exported(record: &DeviceRecord, secrets: bool) -> Exported<'_> {
    Exported {
        id: &record.id,
        username: &record.credentials.username,
        password: secrets.then(|| record.credentials.password.expose()),
        login_protocol: record.credentials.login_protocol,
        name: record.labels.name.as_deref(),
        tags: &record.labels.tags,
    }
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a tab or a carriage
/// return first) gets a leading `'`, and so does one that starts with `'`, so the import can
/// always remove exactly one: the escape is reversible.
fn escape_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// CSV with a header row; without secrets the password column is left out entirely. Cells
/// that would run as spreadsheet formulas are escaped ([`escape_cell`]).
fn csv(rows: &[Exported<'_>], secrets: bool) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let columns = COLUMNS.iter().filter(|c| secrets || **c != "password");
    let write_error = |e: csv::Error| ApiError::internal(format!("writing CSV: {e}"));
    writer.write_record(columns).map_err(write_error)?;
    for row in rows {
        let mut fields = vec![escape_cell(row.id), escape_cell(row.username)];
        if let Some(password) = row.password {
            fields.push(escape_cell(password));
        }
        fields.push(row.login_protocol.as_str().into());
        fields.push(escape_cell(row.name.unwrap_or_default()));
        fields.push(escape_cell(&join_tags(row.tags)).into_owned().into());
        writer
            .write_record(fields.iter().map(|f| f.as_bytes()))
            .map_err(write_error)?;
    }
    writer
        .into_inner()
        .map_err(|e| ApiError::internal(format!("writing CSV: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_escaped_reversibly() {
        for (cell, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-pw", "'-pw"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("'quoted", "''quoted"),
            ("plain", "plain"),
            ("", ""),
        ] {
            assert_eq!(escape_cell(cell), want);
            assert_eq!(
                super::super::import::unescape_cell(&escape_cell(cell)),
                cell
            );
        }
    }
}
