//! `POST /api/devices/import`: many devices at once, as a JSON array or CSV, all or nothing.
//!
//! CSV is RFC 4180 (quoted fields may hold commas, quotes and line breaks) with the columns
//! `id,username,password[,login_protocol[,name[,tags]]]` (tags separated by spaces or `;`). A
//! first row naming columns is a header: its columns may then come in any order, so an export
//! re-imports as it is. A device that exists keeps its name and tags when the file has no such
//! column; an empty cell removes them. Every row is checked
//! before anything is written; the first bad one is reported by its line (CSV) or entry (JSON).

use std::collections::HashMap;
use std::fmt;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::error::ApiError;
use super::extract::{Body, Json};
use super::state::AppState;
use crate::admin_api::{Format, ImportReport, NewDevice};
use crate::device::labels::split_tags;
use crate::device::{LabelChange, LoginProtocol};
use crate::secret::Secret;
use crate::store::{Credentials, DeviceCredentials, StoreError};

/// CSV column names, in the positional order.
pub(super) const COLUMNS: [&str; 6] = [
    "id",
    "username",
    "password",
    "login_protocol",
    "name",
    "tags",
];

/// `POST /api/devices/import` with `Content-Type: application/json` or `text/csv`.
pub(super) async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<ImportReport>, ApiError> {
    let rows = match body_format(&headers, &body)? {
        Format::Csv => parse_csv(&body)?,
        Format::Json => parse_json(&body)?,
    };
    let count = rows.len();
    let devices = rows.into_iter().map(|row| row.device).collect();
    let report = state.gateway().import_devices(devices).await?;
    tracing::info!(
        count,
        added = report.added,
        updated = report.updated,
        "devices imported"
    );
    Ok(Json(report))
}

/// The body's format, from the content type; without one, a body starting with `[` is JSON.
fn body_format(headers: &HeaderMap, body: &[u8]) -> Result<Format, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        return Ok(if first == Some(&b'[') {
            Format::Json
        } else {
            Format::Csv
        });
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let media = media.to_ascii_lowercase();
    match media.as_str() {
        "text/csv" | "application/csv" => Ok(Format::Csv),
        "application/json" => Ok(Format::Json),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content type {media:?}: send application/json or text/csv"),
        )),
    }
}

/// Where a row came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A CSV line (1-based; a quoted field may span lines, this is where the row starts).
    Line(u64),
    /// A JSON array entry (1-based).
    Entry(usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "line {line}"),
            Self::Entry(entry) => write!(f, "entry {entry}"),
        }
    }
}

#[derive(Debug)]
struct Row {
    place: Place,
    device: DeviceCredentials,
}

fn at(place: Place, message: impl fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{place}: {message}"))
}

fn parse_json(body: &[u8]) -> Result<Vec<Row>, ApiError> {
    let entries: Vec<Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("expected a JSON array of devices: {e}")))?;
    let mut rows = Rows::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let place = Place::Entry(index + 1);
        let device: NewDevice = serde_json::from_value(entry).map_err(|e| at(place, e))?;
        rows.push(Row {
            place,
            device: device.try_into().map_err(|e: String| at(place, e))?,
        })?;
    }
    Ok(rows.rows)
}

/// Which field of a record holds which column.
#[derive(Debug, Clone, Copy)]
struct Columns {
    id: usize,
    username: usize,
    password: usize,
    login_protocol: Option<usize>,
    name: Option<usize>,
    tags: Option<usize>,
    /// Positional rows may have 3 to 6 fields; a header fixes the count.
    width: Option<usize>,
}

const POSITIONAL: Columns = Columns {
    id: 0,
    username: 1,
    password: 2,
    login_protocol: Some(3),
    name: Some(4),
    tags: Some(5),
    width: None,
};

impl Columns {
    /// A first row is a header when every field is a column name and one of them is `id`.
    fn header(record: &csv::StringRecord, place: Place) -> Result<Option<Self>, ApiError> {
        let names: Vec<String> = record
            .iter()
            .map(|f| f.trim().to_ascii_lowercase())
            .collect();
        if !names.iter().any(|n| n == "id") || !names.iter().all(|n| COLUMNS.contains(&n.as_str()))
        {
            return Ok(None);
        }
        let find = |name: &str| names.iter().position(|n| n == name);
        for (i, name) in names.iter().enumerate() {
            if find(name) != Some(i) {
                return Err(at(
                    place,
                    format!("column {name:?} appears twice in the header"),
                ));
            }
        }
        let need = |name: &str| {
            find(name).ok_or_else(|| {
                let hint = if name == "password" {
                    " (an export without secrets cannot be imported; export with secrets=true)"
                } else {
                    ""
                };
                at(place, format!("the header has no {name:?} column{hint}"))
            })
        };
        Ok(Some(Self {
            id: need("id")?,
            username: need("username")?,
            password: need("password")?,
            login_protocol: find("login_protocol"),
            name: find("name"),
            tags: find("tags"),
            width: Some(names.len()),
        }))
    }

    fn row(&self, record: &csv::StringRecord, place: Place) -> Result<Row, ApiError> {
        let fits = match self.width {
            Some(width) => record.len() == width,
            None => (3..=COLUMNS.len()).contains(&record.len()),
        };
        if !fits {
            let expected = self.width.map_or_else(
                || "3 to 6 (id,username,password[,login_protocol[,name[,tags]]])".to_owned(),
                |w| w.to_string(),
            );
            return Err(at(
                place,
                format!("expected {expected} fields, found {}", record.len()),
            ));
        }
        // A positional row shorter than the columns has none of the ones it leaves out.
        let present = |column: Option<usize>| column.filter(|&i| i < record.len());
        let field = |i: usize| unescape_cell(record.get(i).unwrap_or(""));
        let protocol = present(self.login_protocol)
            .map(field)
            .map(str::trim)
            .unwrap_or("");
        let labels = LabelChange::new(
            present(self.name).map(|i| field(i).to_owned()),
            present(self.tags).map(|i| split_tags(field(i))),
        )
        .map_err(|e| at(place, e))?;
        let login_protocol = if protocol.is_empty() {
            LoginProtocol::default()
        } else {
            protocol
                .to_ascii_lowercase()
                .parse()
                .map_err(|e| at(place, e))?
        };
        Ok(Row {
            place,
            device: DeviceCredentials {
                id: field(self.id).trim().to_owned(),
                credentials: Credentials {
                    username: field(self.username).trim().to_owned(),
                    // Spaces may be part of a password: taken exactly as written.
                    password: Secret::new(field(self.password)),
                    login_protocol,
                },
                labels,
            },
        })
    }
}

/// Undoes the export's spreadsheet escape: one leading `'` is removed (the export adds it in
/// front of a cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage return or `'`).
pub(super) fn unescape_cell(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

fn parse_csv(body: &[u8]) -> Result<Vec<Row>, ApiError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut columns = None;
    let mut rows = Rows::with_capacity(0);
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| ApiError::bad_request(csv_error(&e)))?;
        let place = Place::Line(
            record
                .position()
                .map_or(index as u64 + 1, csv::Position::line),
        );
        let columns = match columns {
            Some(columns) => columns,
            None => {
                let found = Columns::header(&record, place)?;
                columns = Some(found.unwrap_or(POSITIONAL));
                if found.is_some() {
                    continue;
                }
                POSITIONAL
            }
        };
        rows.push(columns.row(&record, place)?)?;
    }
    Ok(rows.rows)
}

/// With `flexible` set the reader's only error on a byte slice is a field that is not UTF-8.
fn csv_error(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 {
            pos: Some(position),
            ..
        } => {
            format!("line {}: a field is not valid UTF-8", position.line())
        }
        _ => format!("not valid CSV: {error}"),
    }
}

/// Rows checked one by one as they are read — bounds, and no ID twice — so the first bad row
/// is the one reported, and nothing is written unless all are good.
#[derive(Debug)]
struct Rows {
    rows: Vec<Row>,
    seen: HashMap<String, Place>,
}

impl Rows {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            rows: Vec::with_capacity(capacity),
            seen: HashMap::with_capacity(capacity),
        }
    }

    fn push(&mut self, row: Row) -> Result<(), ApiError> {
        row.device.validate().map_err(|e| match e {
            StoreError::Invalid(message) => at(row.place, message),
            other => ApiError::from(other),
        })?;
        if let Some(first) = self.seen.insert(row.device.id.clone(), row.place) {
            let message = format!(
                "device {:?} appears again (first at {first})",
                row.device.id
            );
            return Err(at(row.place, message));
        }
        self.rows.push(row);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(rows: &[Row]) -> Vec<&str> {
        rows.iter().map(|r| r.device.id.as_str()).collect()
    }

    #[test]
    fn csv_without_a_header_is_positional_with_an_optional_protocol() {
        let rows = parse_csv(b"cam1,admin,pw1\ncam2,admin,pw2,dvrip\n").expect("parses");
        assert_eq!(ids(&rows), ["cam1", "cam2"]);
        assert_eq!(
            rows[0].device.credentials.login_protocol,
            LoginProtocol::Auto
        );
        assert_eq!(
            rows[1].device.credentials.login_protocol,
            LoginProtocol::Dvrip
        );
        assert_eq!(rows[1].place, Place::Line(2));
    }

    #[test]
    fn csv_quoted_fields_keep_commas_quotes_and_line_breaks() {
        let body = b"id,username,password\r\ncam1,admin,\"a,b \"\"c\"\"\nd\"\ncam2,admin,x\n";
        let rows = parse_csv(body).expect("parses");
        assert_eq!(rows[0].device.credentials.password.expose(), "a,b \"c\"\nd");
        assert_eq!(rows[1].place, Place::Line(4));
    }

    #[test]
    fn csv_header_columns_may_come_in_any_order() {
        let rows =
            parse_csv(b"login_protocol,password,id,username\ndhip,pw,cam1,root\n").expect("parses");
        assert_eq!(rows[0].device.id, "cam1");
        assert_eq!(rows[0].device.credentials.username, "root");
        assert_eq!(rows[0].device.credentials.password.expose(), "pw");
        assert_eq!(
            rows[0].device.credentials.login_protocol,
            LoginProtocol::Dhip
        );
    }

    #[test]
    fn csv_names_and_tags_are_set_removed_or_kept_as_the_columns_say() {
        let body = b"id,username,password,name,tags\ncam1,admin,pw,\"Gate, north\",yard;site:b\ncam2,admin,pw,,\n";
        let rows = parse_csv(body).expect("parses");
        assert_eq!(
            rows[0].device.labels.name,
            Some(Some("Gate, north".to_owned()))
        );
        assert_eq!(
            rows[0].device.labels.tags.as_deref(),
            Some(&["yard".to_owned(), "site:b".to_owned()][..])
        );
        // Empty cells remove what the device had.
        assert_eq!(rows[1].device.labels.name, Some(None));
        assert_eq!(rows[1].device.labels.tags.as_deref(), Some(&[][..]));
        // No such columns: an existing device keeps its labels.
        let rows = parse_csv(b"cam1,admin,pw,dvrip\n").expect("parses");
        assert!(rows[0].device.labels.is_empty());
        let rows = parse_csv(b"cam1,admin,pw,dvrip,Gate\n").expect("positional name");
        assert_eq!(rows[0].device.labels.name, Some(Some("Gate".to_owned())));
        assert_eq!(rows[0].device.labels.tags, None);
        let error = parse_csv(b"cam1,admin,pw,auto,,a,b\n").expect_err("seven fields");
        assert!(
            error.message().starts_with("line 1: expected 3 to 6"),
            "{}",
            error.message()
        );
        let long = format!("cam1,admin,pw,auto,{}\n", "n".repeat(65));
        let error = parse_csv(long.as_bytes()).expect_err("long name");
        assert!(
            error.message().starts_with("line 1: the name is 65"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn json_tags_with_a_comma_are_refused_at_their_entry() {
        let error = parse_json(br#"[{"id":"a","username":"u","password":"p","tags":["x,y"]}]"#)
            .expect_err("comma");
        assert!(
            error
                .message()
                .starts_with("entry 1: device \"a\": tag \"x,y\""),
            "{}",
            error.message()
        );
    }

    #[test]
    fn csv_export_without_secrets_is_refused_with_a_hint() {
        let error = parse_csv(b"id,username,login_protocol\ncam1,admin,auto\n").expect_err("no pw");
        assert!(error.message().contains("line 1") && error.message().contains("secrets=true"));
    }

    #[test]
    fn csv_errors_name_the_line() {
        let error = parse_csv(b"cam1,admin,pw\ncam2,admin\n").expect_err("short row");
        assert!(
            error.message().starts_with("line 2: expected 3 to 6"),
            "{}",
            error.message()
        );
        let error = parse_csv(b"cam1,admin,pw,telnet\n").expect_err("bad protocol");
        assert!(
            error.message().starts_with("line 1: "),
            "{}",
            error.message()
        );
    }

    #[test]
    fn the_first_bad_row_is_reported_whatever_is_wrong_with_it() {
        let error = parse_csv(b"cam1,admin,pw\ncam2,,pw\ncam3\n").expect_err("empty user");
        assert!(
            error.message().starts_with("line 2: "),
            "{}",
            error.message()
        );
        let error = parse_csv(b"cam1,admin,pw\ncam1,admin,pw\n").expect_err("duplicate");
        assert!(
            error.message().contains("first at line 1"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn json_errors_name_the_entry_and_field() {
        let error = parse_json(br#"[{"id":"a","username":"u","password":"p"},{"id":"b","username":"u","password":"p","x":1}]"#)
            .expect_err("unknown field");
        assert!(
            error.message().starts_with("entry 2: unknown field `x`"),
            "{}",
            error.message()
        );
    }
}
