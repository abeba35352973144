//! One camera-sync message as a typed value: a line of text read into fields, and back.
//!
//! A line is `<Command>` or `<Command> <Param>` (one space; the parameter is the rest of the
//! line). [`SyncMessage::encode`] writes the canonical form and [`SyncMessage::parse`] reads it
//! strictly, with a [`ParseError`] that names the command and field at fault.
//!
//! Rules a peer should know:
//! - An empty parameter is written as the bare command (`ReturnDataSocketPort`, no trailing
//!   space); `Command ` with a space and nothing after reads the same.
//! - Only the separators of the command at hand split its parameter; the others are ordinary
//!   characters. So `LoginOk 3|2024-05-01 10:00:00|1.2.3.4` reads the time with its colons and
//!   writes it back byte-identical (see [`escape`](super::escape) for the escapes).
//! - Numbers are ASCII digits only (no sign, no spaces) and must fit the field's type; leading
//!   zeros are read but not written back.
//! - Online status is `true`, `false` or (where the seed allows it) `null`, lower case.
//! - The IDs of an ID list are never empty, so an empty parameter is unambiguously the empty
//!   list; a status query carries at most [`MAX_QUERY_IDS`] IDs.
//!
//! Besides the seed's commands there are ours (see [`command`](super::command) for the table):
//! `Heartbeat`; `Logout` → `LogoutOk`; `DeleteCaramer cameraID` → `DeleteSucess cameraID` or
//! `DeleteFail cameraID|reason`; `ChangeCaramerPassword cameraID|newPassword` →
//! `ChangeSucess cameraID` or `ChangeFail cameraID|reason`. A bare camera ID parameter has no
//! separator, so only `\` and line breaks are escaped in it.
//!
//! Data-connection tokens (ours): `CreatDataSocket user|password|token` asks for one, the answer
//! is `ReturnDataSocketPort port|token`, and `BindDataSocket token` is the first line on the
//! data connection. Without the third field the request and the answer are the seed's.

use std::fmt;
use std::str::FromStr;

use super::command::CommandName;
use super::error::ParseError;
use super::escape::Separator;
use super::fields::{LineWriter, Reader};
use super::status::OnlineStatus;

pub use super::fields::MAX_QUERY_IDS;

/// One camera-sync message, a variant per [`CommandName`] with the seed's fields typed.
///
/// Variant names are the seed's command names, misspellings included, so that code and wire
/// traffic read alike. `Debug` hides every password.
#[derive(Clone, PartialEq, Eq)]
pub enum SyncMessage {
    /// C→S `Login user|password`.
    Login {
        /// Account name.
        user: String,
        /// Account password, in clear (the seed has no hashing on the wire).
        password: String,
    },
    /// S→C `LoginOk cameraCount|lastLoginTime|lastLoginIP`.
    LoginOk {
        /// Cameras bound to the account on the server.
        camera_count: u32,
        /// Previous login, `yyyy-MM-dd HH:mm:ss` server local time; `None` (empty) on a first
        /// login. `Some("")` is written like `None`.
        last_login_time: Option<String>,
        /// Peer IP of the previous login; `None` (empty) on a first login.
        last_login_ip: Option<String>,
    },
    /// S→C `LoginError reason`.
    LoginError {
        /// Shown to the user as is, e.g. `用户名或者密码错误!`.
        reason: String,
    },
    /// C→S `CreatDataSocket user|password`: ask for a data connection; with a third field
    /// `token` (ours), for a one-time token to present on it.
    CreatDataSocket {
        /// Account name.
        user: String,
        /// Account password.
        password: String,
        /// Whether the app asks for a token (`user|password|token`).
        token: bool,
    },
    /// S→C `ReturnDataSocketPort port` (`port|token` when a token was asked for); `None`
    /// (empty parameter) when no port is free.
    ReturnDataSocketPort(Option<DataPort>),
    /// C→S `UploadCaramer cameraID|cameraPassword|current|total`: upload one camera.
    UploadCaramer {
        /// The camera's device ID.
        camera_id: String,
        /// The camera's password.
        camera_password: String,
        /// Position of this camera in the upload, from 1.
        current: u32,
        /// Number of cameras in the upload.
        total: u32,
    },
    /// S→C `UploadSucess cameraID|onlineStatus|syncedCount|total`: upload accepted.
    UploadSucess {
        /// The camera's device ID.
        camera_id: String,
        /// Whether it is online now.
        online: OnlineStatus,
        /// Cameras synced so far; the client may close the data connection at `total`.
        synced: u32,
        /// Number of cameras in the upload.
        total: u32,
    },
    /// S→C `UploadFail cameraID|reason|syncedCount|total`: upload refused.
    UploadFail {
        /// The camera's device ID.
        camera_id: String,
        /// Why, e.g. `ID和密码不匹配` or `该摄像头绑定账号已满`.
        reason: String,
        /// Cameras synced so far.
        synced: u32,
        /// Number of cameras in the upload.
        total: u32,
    },
    /// C→S `DownLoadCaramer downloaded`: ask for the next camera.
    DownLoadCaramer {
        /// Cameras already downloaded (0 at first, then the last `current` echoed back).
        downloaded: u32,
    },
    /// S→C `DownloadSucess cameraID|cameraPassword|onlineStatus|current|total`: one camera.
    DownloadSucess {
        /// The camera's device ID.
        camera_id: String,
        /// The camera's password.
        camera_password: String,
        /// Whether it is online now.
        online: OnlineStatus,
        /// Position of this camera, from 1; the client echoes it back.
        current: u32,
        /// Number of cameras bound to the account.
        total: u32,
    },
    /// S→C `DownloadFail reason`.
    DownloadFail {
        /// Why, usually that the account has no camera.
        reason: String,
    },
    /// C→S `CheckCaramerOnlineStatus id1;id2;…`: at most [`MAX_QUERY_IDS`] non-empty IDs.
    CheckCaramerOnlineStatus(Vec<String>),
    /// S→C `ReturnCaramerOnlineStatus id1;status1|id2;status2|…`.
    ReturnCaramerOnlineStatus(Vec<(String, OnlineStatus)>),
    /// S→C push `PrushCaramerOnlineStatus cameraID:status`.
    PrushCaramerOnlineStatus {
        /// The camera's device ID.
        camera_id: String,
        /// `true` when it came online, `false` when it went offline.
        online: bool,
    },
    /// S→C push `PrushCaramerAlarmInfo cameraID:alarmType`.
    PrushCaramerAlarmInfo {
        /// The camera's device ID.
        camera_id: String,
        /// The alarm's type, as text.
        alarm_type: String,
    },
    /// Both ways, bare `Heartbeat`: keep-alive on the main connection.
    Heartbeat,
    /// C→S bare `Logout`: forget the session's account (ours).
    Logout,
    /// S→C bare `LogoutOk`: the session is logged out (ours).
    LogoutOk,
    /// C→S `DeleteCaramer cameraID`: unbind a camera from the account (ours).
    DeleteCaramer {
        /// The camera's device ID.
        camera_id: String,
    },
    /// S→C `DeleteSucess cameraID`: unbound (ours).
    DeleteSucess {
        /// The camera's device ID.
        camera_id: String,
    },
    /// S→C `DeleteFail cameraID|reason`: not unbound (ours).
    DeleteFail {
        /// The camera's device ID.
        camera_id: String,
        /// Why, e.g. `该摄像头未绑定`.
        reason: String,
    },
    /// C→S `ChangeCaramerPassword cameraID|newPassword`: replace a bound camera's password
    /// (ours).
    ChangeCaramerPassword {
        /// The camera's device ID.
        camera_id: String,
        /// The camera's new password.
        camera_password: String,
    },
    /// S→C `ChangeSucess cameraID`: the password was replaced (ours).
    ChangeSucess {
        /// The camera's device ID.
        camera_id: String,
    },
    /// S→C `ChangeFail cameraID|reason`: the password was not replaced (ours).
    ChangeFail {
        /// The camera's device ID.
        camera_id: String,
        /// Why, e.g. `ID和密码不匹配`.
        reason: String,
    },
    /// C→S `BindDataSocket token`: the first line on a data connection whose port came with a
    /// token (ours).
    BindDataSocket {
        /// The token `ReturnDataSocketPort` gave.
        token: String,
    },
}

/// A data port as `ReturnDataSocketPort` gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct DataPort {
    /// The port to connect to, on the server's address.
    pub port: u16,
    /// The one-time token to send first on it (`BindDataSocket`), when the app asked for one.
    pub token: Option<String>,
}

impl DataPort {
    /// A port without a token (the seed's answer).
    pub fn plain(port: u16) -> Self {
        Self { port, token: None }
    }
}

impl fmt::Debug for DataPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataPort")
            .field("port", &self.port)
            .field("token", &self.token.as_ref().map(|_| REDACTED))
            .finish()
    }
}

impl SyncMessage {
    /// The command this message is.
    pub fn command(&self) -> CommandName {
        match self {
            SyncMessage::Login { .. } => CommandName::Login,
            SyncMessage::LoginOk { .. } => CommandName::LoginOk,
            SyncMessage::LoginError { .. } => CommandName::LoginError,
            SyncMessage::CreatDataSocket { .. } => CommandName::CreatDataSocket,
            SyncMessage::ReturnDataSocketPort(_) => CommandName::ReturnDataSocketPort,
            SyncMessage::UploadCaramer { .. } => CommandName::UploadCaramer,
            SyncMessage::UploadSucess { .. } => CommandName::UploadSucess,
            SyncMessage::UploadFail { .. } => CommandName::UploadFail,
            SyncMessage::DownLoadCaramer { .. } => CommandName::DownLoadCaramer,
            SyncMessage::DownloadSucess { .. } => CommandName::DownloadSucess,
            SyncMessage::DownloadFail { .. } => CommandName::DownloadFail,
            SyncMessage::CheckCaramerOnlineStatus(_) => CommandName::CheckCaramerOnlineStatus,
            SyncMessage::ReturnCaramerOnlineStatus(_) => CommandName::ReturnCaramerOnlineStatus,
            SyncMessage::PrushCaramerOnlineStatus { .. } => CommandName::PrushCaramerOnlineStatus,
            SyncMessage::PrushCaramerAlarmInfo { .. } => CommandName::PrushCaramerAlarmInfo,
            SyncMessage::Heartbeat => CommandName::Heartbeat,
            SyncMessage::Logout => CommandName::Logout,
            SyncMessage::LogoutOk => CommandName::LogoutOk,
            SyncMessage::DeleteCaramer { .. } => CommandName::DeleteCaramer,
            SyncMessage::DeleteSucess { .. } => CommandName::DeleteSucess,
            SyncMessage::DeleteFail { .. } => CommandName::DeleteFail,
            SyncMessage::ChangeCaramerPassword { .. } => CommandName::ChangeCaramerPassword,
            SyncMessage::ChangeSucess { .. } => CommandName::ChangeSucess,
            SyncMessage::ChangeFail { .. } => CommandName::ChangeFail,
            SyncMessage::BindDataSocket { .. } => CommandName::BindDataSocket,
        }
    }

    /// Writes the message as one line, **without** the terminating `\n` (the codec adds it).
    ///
    /// Always the short command name; an empty parameter leaves the bare command. The line
    /// holds no raw line break. Limits that parsing enforces (at most [`MAX_QUERY_IDS`] IDs,
    /// no empty ID in a list) are the caller's to respect; [`SyncLineCodec`] additionally
    /// refuses to write a line longer than its maximum.
    ///
    /// [`SyncLineCodec`]: super::codec::SyncLineCodec
    pub fn encode(&self) -> String {
        let mut out = LineWriter::new(self.command());
        match self {
            SyncMessage::Login { user, password } => {
                out.text(user).pipe().text(password);
            }
            SyncMessage::CreatDataSocket {
                user,
                password,
                token,
            } => {
                out.text(user).pipe().text(password);
                if *token {
                    out.pipe().raw(TOKEN_WORD);
                }
            }
            SyncMessage::LoginOk {
                camera_count,
                last_login_time,
                last_login_ip,
            } => {
                out.number(*camera_count).pipe();
                out.text(last_login_time.as_deref().unwrap_or_default())
                    .pipe();
                out.text(last_login_ip.as_deref().unwrap_or_default());
            }
            SyncMessage::LoginError { reason } | SyncMessage::DownloadFail { reason } => {
                out.text(reason);
            }
            SyncMessage::ReturnDataSocketPort(port) => {
                if let Some(DataPort { port, token }) = port {
                    out.number(*port);
                    if let Some(token) = token {
                        out.pipe().text(token);
                    }
                }
            }
            SyncMessage::UploadCaramer {
                camera_id,
                camera_password,
                current,
                total,
            } => {
                out.text(camera_id).pipe().text(camera_password).pipe();
                out.number(*current).pipe().number(*total);
            }
            SyncMessage::UploadSucess {
                camera_id,
                online,
                synced,
                total,
            } => {
                out.text(camera_id).pipe().raw(online.as_str()).pipe();
                out.number(*synced).pipe().number(*total);
            }
            SyncMessage::UploadFail {
                camera_id,
                reason,
                synced,
                total,
            } => {
                out.text(camera_id).pipe().text(reason).pipe();
                out.number(*synced).pipe().number(*total);
            }
            SyncMessage::DownLoadCaramer { downloaded } => {
                out.number(*downloaded);
            }
            SyncMessage::DownloadSucess {
                camera_id,
                camera_password,
                online,
                current,
                total,
            } => {
                out.text(camera_id).pipe().text(camera_password).pipe();
                out.raw(online.as_str()).pipe();
                out.number(*current).pipe().number(*total);
            }
            SyncMessage::CheckCaramerOnlineStatus(ids) => {
                for (index, id) in ids.iter().enumerate() {
                    if index > 0 {
                        out.raw(";");
                    }
                    out.text(id);
                }
            }
            SyncMessage::ReturnCaramerOnlineStatus(entries) => {
                for (index, (id, status)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.pipe();
                    }
                    out.text(id).raw(";").raw(status.as_str());
                }
            }
            SyncMessage::PrushCaramerOnlineStatus { camera_id, online } => {
                let status = OnlineStatus::from(*online);
                out.text(camera_id).raw(":").raw(status.as_str());
            }
            SyncMessage::PrushCaramerAlarmInfo {
                camera_id,
                alarm_type,
            } => {
                out.text(camera_id).raw(":").text(alarm_type);
            }
            SyncMessage::Heartbeat | SyncMessage::Logout | SyncMessage::LogoutOk => {}
            SyncMessage::DeleteCaramer { camera_id }
            | SyncMessage::DeleteSucess { camera_id }
            | SyncMessage::ChangeSucess { camera_id } => {
                out.text(camera_id);
            }
            SyncMessage::BindDataSocket { token } => {
                out.text(token);
            }
            SyncMessage::DeleteFail { camera_id, reason }
            | SyncMessage::ChangeFail { camera_id, reason } => {
                out.text(camera_id).pipe().text(reason);
            }
            SyncMessage::ChangeCaramerPassword {
                camera_id,
                camera_password,
            } => {
                out.text(camera_id).pipe().text(camera_password);
            }
        }
        out.finish()
    }

    /// Reads one line, given **without** its `\n` terminator (nor a `\r` before it).
    ///
    /// The command may be the short name or the seed's dotted path; see the
    /// [module docs](self) for the rules.
    pub fn parse(line: &str) -> Result<SyncMessage, ParseError> {
        if line.is_empty() {
            return Err(ParseError::EmptyLine);
        }
        if line.contains('\n') {
            return Err(ParseError::LineFeed);
        }
        let (token, param) = line.split_once(' ').unwrap_or((line, ""));
        let command = CommandName::parse(token)?;
        let read = Reader { command };
        let message = match command {
            CommandName::Login => {
                let [user, password] = read.fields(param, Separator::Pipe)?;
                SyncMessage::Login {
                    user: read.text("user", user)?,
                    password: read.text("password", password)?,
                }
            }
            CommandName::LoginOk => {
                let [count, time, ip] = read.fields(param, Separator::Pipe)?;
                SyncMessage::LoginOk {
                    camera_count: read.number("cameraCount", count)?,
                    last_login_time: read.optional_text("lastLoginTime", time)?,
                    last_login_ip: read.optional_text("lastLoginIP", ip)?,
                }
            }
            CommandName::LoginError => SyncMessage::LoginError {
                reason: read.text("reason", param)?,
            },
            CommandName::CreatDataSocket => {
                let ([user, password], token) = read.fields_and_optional(param, Separator::Pipe)?;
                SyncMessage::CreatDataSocket {
                    user: read.text("user", user)?,
                    password: read.text("password", password)?,
                    token: match token {
                        None => false,
                        Some(TOKEN_WORD) => true,
                        Some(other) => return Err(read.bad_status("token", other, "`token`")),
                    },
                }
            }
            CommandName::ReturnDataSocketPort => SyncMessage::ReturnDataSocketPort(match param {
                "" => None,
                param => {
                    let ([port], token) = read.fields_and_optional(param, Separator::Pipe)?;
                    Some(DataPort {
                        port: read.number("port", port)?,
                        token: token.map(|token| read.text("token", token)).transpose()?,
                    })
                }
            }),
            CommandName::UploadCaramer => {
                let [id, password, current, total] = read.fields(param, Separator::Pipe)?;
                SyncMessage::UploadCaramer {
                    camera_id: read.text("cameraID", id)?,
                    camera_password: read.text("cameraPassword", password)?,
                    current: read.number("current", current)?,
                    total: read.number("total", total)?,
                }
            }
            CommandName::UploadSucess => {
                let [id, online, synced, total] = read.fields(param, Separator::Pipe)?;
                SyncMessage::UploadSucess {
                    camera_id: read.text("cameraID", id)?,
                    online: read.status("onlineStatus", online)?,
                    synced: read.number("syncedCount", synced)?,
                    total: read.number("total", total)?,
                }
            }
            CommandName::UploadFail => {
                let [id, reason, synced, total] = read.fields(param, Separator::Pipe)?;
                SyncMessage::UploadFail {
                    camera_id: read.text("cameraID", id)?,
                    reason: read.text("reason", reason)?,
                    synced: read.number("syncedCount", synced)?,
                    total: read.number("total", total)?,
                }
            }
            CommandName::DownLoadCaramer => SyncMessage::DownLoadCaramer {
                downloaded: read.number("downloaded", param)?,
            },
            CommandName::DownloadSucess => {
                let [id, password, online, current, total] = read.fields(param, Separator::Pipe)?;
                SyncMessage::DownloadSucess {
                    camera_id: read.text("cameraID", id)?,
                    camera_password: read.text("cameraPassword", password)?,
                    online: read.status("onlineStatus", online)?,
                    current: read.number("current", current)?,
                    total: read.number("total", total)?,
                }
            }
            CommandName::DownloadFail => SyncMessage::DownloadFail {
                reason: read.text("reason", param)?,
            },
            CommandName::CheckCaramerOnlineStatus => {
                SyncMessage::CheckCaramerOnlineStatus(read.id_list(param)?)
            }
            CommandName::ReturnCaramerOnlineStatus => {
                SyncMessage::ReturnCaramerOnlineStatus(read.status_list(param)?)
            }
            CommandName::PrushCaramerOnlineStatus => {
                let [id, online] = read.fields(param, Separator::Colon)?;
                SyncMessage::PrushCaramerOnlineStatus {
                    camera_id: read.text("cameraID", id)?,
                    online: match online {
                        "true" => true,
                        "false" => false,
                        other => return Err(read.bad_status("status", other, "true or false")),
                    },
                }
            }
            CommandName::PrushCaramerAlarmInfo => {
                let [id, alarm_type] = read.fields(param, Separator::Colon)?;
                SyncMessage::PrushCaramerAlarmInfo {
                    camera_id: read.text("cameraID", id)?,
                    alarm_type: read.text("alarmType", alarm_type)?,
                }
            }
            CommandName::Heartbeat => {
                read.no_parameter(param)?;
                SyncMessage::Heartbeat
            }
            CommandName::Logout => {
                read.no_parameter(param)?;
                SyncMessage::Logout
            }
            CommandName::LogoutOk => {
                read.no_parameter(param)?;
                SyncMessage::LogoutOk
            }
            CommandName::DeleteCaramer => SyncMessage::DeleteCaramer {
                camera_id: read.text("cameraID", param)?,
            },
            CommandName::DeleteSucess => SyncMessage::DeleteSucess {
                camera_id: read.text("cameraID", param)?,
            },
            CommandName::DeleteFail => {
                let [id, reason] = read.fields(param, Separator::Pipe)?;
                SyncMessage::DeleteFail {
                    camera_id: read.text("cameraID", id)?,
                    reason: read.text("reason", reason)?,
                }
            }
            CommandName::ChangeSucess => SyncMessage::ChangeSucess {
                camera_id: read.text("cameraID", param)?,
            },
            CommandName::ChangeFail => {
                let [id, reason] = read.fields(param, Separator::Pipe)?;
                SyncMessage::ChangeFail {
                    camera_id: read.text("cameraID", id)?,
                    reason: read.text("reason", reason)?,
                }
            }
            CommandName::ChangeCaramerPassword => {
                let [id, password] = read.fields(param, Separator::Pipe)?;
                SyncMessage::ChangeCaramerPassword {
                    camera_id: read.text("cameraID", id)?,
                    camera_password: read.text("newPassword", password)?,
                }
            }
            CommandName::BindDataSocket => SyncMessage::BindDataSocket {
                token: read.text("token", param)?,
            },
        };
        Ok(message)
    }
}

impl FromStr for SyncMessage {
    type Err = ParseError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        SyncMessage::parse(line)
    }
}

/// Shown instead of a password by `Debug`.
const REDACTED: &str = "<redacted>";

/// The third field of `CreatDataSocket` that asks for a data-connection token.
const TOKEN_WORD: &str = "token";

impl fmt::Debug for SyncMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncMessage::Login { user, .. } => f
                .debug_struct("Login")
                .field("user", user)
                .field("password", &REDACTED)
                .finish(),
            SyncMessage::CreatDataSocket { user, token, .. } => f
                .debug_struct("CreatDataSocket")
                .field("user", user)
                .field("password", &REDACTED)
                .field("token", token)
                .finish(),
            SyncMessage::LoginOk {
                camera_count,
                last_login_time,
                last_login_ip,
            } => f
                .debug_struct("LoginOk")
                .field("camera_count", camera_count)
                .field("last_login_time", last_login_time)
                .field("last_login_ip", last_login_ip)
                .finish(),
            SyncMessage::LoginError { reason } => f
                .debug_struct("LoginError")
                .field("reason", reason)
                .finish(),
            SyncMessage::ReturnDataSocketPort(port) => {
                f.debug_tuple("ReturnDataSocketPort").field(port).finish()
            }
            SyncMessage::UploadCaramer {
                camera_id,
                current,
                total,
                ..
            } => f
                .debug_struct("UploadCaramer")
                .field("camera_id", camera_id)
                .field("camera_password", &REDACTED)
                .field("current", current)
                .field("total", total)
                .finish(),
            SyncMessage::UploadSucess {
                camera_id,
                online,
                synced,
                total,
            } => f
                .debug_struct("UploadSucess")
                .field("camera_id", camera_id)
                .field("online", online)
                .field("synced", synced)
                .field("total", total)
                .finish(),
            SyncMessage::UploadFail {
                camera_id,
                reason,
                synced,
                total,
            } => f
                .debug_struct("UploadFail")
                .field("camera_id", camera_id)
                .field("reason", reason)
                .field("synced", synced)
                .field("total", total)
                .finish(),
            SyncMessage::DownLoadCaramer { downloaded } => f
                .debug_struct("DownLoadCaramer")
                .field("downloaded", downloaded)
                .finish(),
            SyncMessage::DownloadSucess {
                camera_id,
                online,
                current,
                total,
                ..
            } => f
                .debug_struct("DownloadSucess")
                .field("camera_id", camera_id)
                .field("camera_password", &REDACTED)
                .field("online", online)
                .field("current", current)
                .field("total", total)
                .finish(),
            SyncMessage::DownloadFail { reason } => f
                .debug_struct("DownloadFail")
                .field("reason", reason)
                .finish(),
            SyncMessage::CheckCaramerOnlineStatus(ids) => f
                .debug_tuple("CheckCaramerOnlineStatus")
                .field(ids)
                .finish(),
            SyncMessage::ReturnCaramerOnlineStatus(entries) => f
                .debug_tuple("ReturnCaramerOnlineStatus")
                .field(entries)
                .finish(),
            SyncMessage::PrushCaramerOnlineStatus { camera_id, online } => f
                .debug_struct("PrushCaramerOnlineStatus")
                .field("camera_id", camera_id)
                .field("online", online)
                .finish(),
            SyncMessage::PrushCaramerAlarmInfo {
                camera_id,
                alarm_type,
            } => f
                .debug_struct("PrushCaramerAlarmInfo")
                .field("camera_id", camera_id)
                .field("alarm_type", alarm_type)
                .finish(),
            SyncMessage::Heartbeat => f.write_str("Heartbeat"),
            SyncMessage::Logout => f.write_str("Logout"),
            SyncMessage::LogoutOk => f.write_str("LogoutOk"),
            SyncMessage::DeleteCaramer { camera_id } => f
                .debug_struct("DeleteCaramer")
                .field("camera_id", camera_id)
                .finish(),
            SyncMessage::DeleteSucess { camera_id } => f
                .debug_struct("DeleteSucess")
                .field("camera_id", camera_id)
                .finish(),
            SyncMessage::DeleteFail { camera_id, reason } => f
                .debug_struct("DeleteFail")
                .field("camera_id", camera_id)
                .field("reason", reason)
                .finish(),
            SyncMessage::ChangeCaramerPassword { camera_id, .. } => f
                .debug_struct("ChangeCaramerPassword")
                .field("camera_id", camera_id)
                .field("camera_password", &REDACTED)
                .finish(),
            SyncMessage::ChangeSucess { camera_id } => f
                .debug_struct("ChangeSucess")
                .field("camera_id", camera_id)
                .finish(),
            SyncMessage::ChangeFail { camera_id, reason } => f
                .debug_struct("ChangeFail")
                .field("camera_id", camera_id)
                .field("reason", reason)
                .finish(),
            SyncMessage::BindDataSocket { .. } => f
                .debug_struct("BindDataSocket")
                .field("token", &REDACTED)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::command::CommandError;
    use crate::sync::escape::EscapeError;
    use crate::sync::fields::VALUE_PREVIEW_CHARS;

    fn parse(line: &str) -> SyncMessage {
        SyncMessage::parse(line).unwrap_or_else(|error| panic!("{line:?}: {error}"))
    }

    fn parse_err(line: &str) -> ParseError {
        SyncMessage::parse(line).expect_err(line)
    }

    fn ids(n: usize) -> String {
        (0..n)
            .map(|i| format!("cam{i}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn seed_format_lines_round_trip_byte_identical_for_every_command() {
        let cases = [
            (
                "Login alice|s3cret",
                SyncMessage::Login {
                    user: "alice".into(),
                    password: "s3cret".into(),
                },
            ),
            (
                "LoginOk 3|2024-05-01 10:00:00|1.2.3.4",
                SyncMessage::LoginOk {
                    camera_count: 3,
                    last_login_time: Some("2024-05-01 10:00:00".into()),
                    last_login_ip: Some("1.2.3.4".into()),
                },
            ),
            (
                "LoginError 用户名或者密码错误!",
                SyncMessage::LoginError {
                    reason: "用户名或者密码错误!".into(),
                },
            ),
            (
                "CreatDataSocket alice|s3cret",
                SyncMessage::CreatDataSocket {
                    token: false,
                    user: "alice".into(),
                    password: "s3cret".into(),
                },
            ),
            (
                "ReturnDataSocketPort 9601",
                SyncMessage::ReturnDataSocketPort(Some(DataPort::plain(9601))),
            ),
            (
                "ReturnDataSocketPort",
                SyncMessage::ReturnDataSocketPort(None),
            ),
            (
                "UploadCaramer 4K02A1BPAZ12345|admin123|1|2",
                SyncMessage::UploadCaramer {
                    camera_id: "4K02A1BPAZ12345".into(),
                    camera_password: "admin123".into(),
                    current: 1,
                    total: 2,
                },
            ),
            (
                "UploadSucess 4K02A1BPAZ12345|true|1|2",
                SyncMessage::UploadSucess {
                    camera_id: "4K02A1BPAZ12345".into(),
                    online: OnlineStatus::Online,
                    synced: 1,
                    total: 2,
                },
            ),
            (
                "UploadFail 4K02A1BPAZ12345|ID和密码不匹配|1|2",
                SyncMessage::UploadFail {
                    camera_id: "4K02A1BPAZ12345".into(),
                    reason: "ID和密码不匹配".into(),
                    synced: 1,
                    total: 2,
                },
            ),
            (
                "DownLoadCaramer 0",
                SyncMessage::DownLoadCaramer { downloaded: 0 },
            ),
            (
                "DownloadSucess cam1|pw|null|1|3",
                SyncMessage::DownloadSucess {
                    camera_id: "cam1".into(),
                    camera_password: "pw".into(),
                    online: OnlineStatus::Unknown,
                    current: 1,
                    total: 3,
                },
            ),
            (
                "DownloadFail 该账号没有绑定任何摄像头",
                SyncMessage::DownloadFail {
                    reason: "该账号没有绑定任何摄像头".into(),
                },
            ),
            (
                "CheckCaramerOnlineStatus cam1;cam2;cam3",
                SyncMessage::CheckCaramerOnlineStatus(vec![
                    "cam1".into(),
                    "cam2".into(),
                    "cam3".into(),
                ]),
            ),
            (
                "ReturnCaramerOnlineStatus cam1;true|cam2;false|cam3;null",
                SyncMessage::ReturnCaramerOnlineStatus(vec![
                    ("cam1".into(), OnlineStatus::Online),
                    ("cam2".into(), OnlineStatus::Offline),
                    ("cam3".into(), OnlineStatus::Unknown),
                ]),
            ),
            (
                "PrushCaramerOnlineStatus cam1:false",
                SyncMessage::PrushCaramerOnlineStatus {
                    camera_id: "cam1".into(),
                    online: false,
                },
            ),
            (
                "PrushCaramerAlarmInfo cam1:VideoMotion",
                SyncMessage::PrushCaramerAlarmInfo {
                    camera_id: "cam1".into(),
                    alarm_type: "VideoMotion".into(),
                },
            ),
            ("Heartbeat", SyncMessage::Heartbeat),
            ("Logout", SyncMessage::Logout),
            ("LogoutOk", SyncMessage::LogoutOk),
            (
                "DeleteCaramer cam1",
                SyncMessage::DeleteCaramer {
                    camera_id: "cam1".into(),
                },
            ),
            (
                "DeleteSucess cam1",
                SyncMessage::DeleteSucess {
                    camera_id: "cam1".into(),
                },
            ),
            (
                "DeleteFail cam1|该摄像头未绑定",
                SyncMessage::DeleteFail {
                    camera_id: "cam1".into(),
                    reason: "该摄像头未绑定".into(),
                },
            ),
            (
                "ChangeCaramerPassword cam1|n3w",
                SyncMessage::ChangeCaramerPassword {
                    camera_id: "cam1".into(),
                    camera_password: "n3w".into(),
                },
            ),
            (
                "ChangeSucess cam1",
                SyncMessage::ChangeSucess {
                    camera_id: "cam1".into(),
                },
            ),
            (
                "ChangeFail cam1|ID和密码不匹配",
                SyncMessage::ChangeFail {
                    camera_id: "cam1".into(),
                    reason: "ID和密码不匹配".into(),
                },
            ),
            (
                "BindDataSocket 0f1e2d3c",
                SyncMessage::BindDataSocket {
                    token: "0f1e2d3c".into(),
                },
            ),
        ];
        let mut seen = Vec::new();
        for (line, message) in cases {
            assert_eq!(parse(line), message, "{line:?}");
            assert_eq!(message.encode(), line);
            seen.push(message.command());
        }
        for command in CommandName::ALL {
            assert!(seen.contains(&command), "{command} has no seed-format case");
        }
    }

    #[test]
    fn login_ok_time_keeps_its_colons_because_colon_is_not_a_login_ok_separator() {
        let line = "LoginOk 3|2024-05-01 10:00:00|::1";
        let message = parse(line);
        let SyncMessage::LoginOk {
            last_login_time,
            last_login_ip,
            ..
        } = &message
        else {
            panic!("not LoginOk: {message:?}");
        };
        assert_eq!(last_login_time.as_deref(), Some("2024-05-01 10:00:00"));
        assert_eq!(last_login_ip.as_deref(), Some("::1"));
        assert_eq!(message.encode(), line);
    }

    #[test]
    fn escaped_colons_are_read_too_and_written_back_plain() {
        let message = parse("LoginOk 3|2024-05-01 10\\:00\\:00|1.2.3.4");
        assert_eq!(message, parse("LoginOk 3|2024-05-01 10:00:00|1.2.3.4"));
        assert_eq!(message.encode(), "LoginOk 3|2024-05-01 10:00:00|1.2.3.4");
    }

    #[test]
    fn a_first_login_has_neither_time_nor_ip() {
        let message = SyncMessage::LoginOk {
            camera_count: 0,
            last_login_time: None,
            last_login_ip: None,
        };
        assert_eq!(message.encode(), "LoginOk 0||");
        assert_eq!(parse("LoginOk 0||"), message);
    }

    #[test]
    fn an_empty_parameter_may_be_sent_with_or_without_the_space() {
        assert_eq!(
            parse("ReturnDataSocketPort "),
            SyncMessage::ReturnDataSocketPort(None)
        );
        assert_eq!(parse("Heartbeat "), SyncMessage::Heartbeat);
        assert_eq!(
            parse("CheckCaramerOnlineStatus"),
            SyncMessage::CheckCaramerOnlineStatus(Vec::new())
        );
        assert_eq!(
            SyncMessage::ReturnCaramerOnlineStatus(Vec::new()).encode(),
            "ReturnCaramerOnlineStatus"
        );
        assert_eq!(
            SyncMessage::LoginError {
                reason: String::new()
            }
            .encode(),
            "LoginError"
        );
    }

    #[test]
    fn the_seeds_dotted_command_form_is_accepted_and_written_short() {
        let message = parse("SocketCommand.LoginCommand.Login alice|s3cret");
        assert_eq!(message, parse("Login alice|s3cret"));
        assert_eq!(message.encode(), "Login alice|s3cret");
        assert_eq!(
            parse("SocketCommand.CaramCommand.PrushCaramerAlarmInfo cam1:VideoMotion").command(),
            CommandName::PrushCaramerAlarmInfo
        );
        assert!(matches!(
            parse_err("SocketCommand.NormalCommand.Login alice|s3cret"),
            ParseError::Command(CommandError::WrongGroup { .. })
        ));
    }

    #[test]
    fn the_seeds_stray_space_after_the_last_dot_is_not_a_command() {
        assert!(matches!(
            parse_err("SocketCommand.CaramCommand. UploadSucess cam1|true|1|1"),
            ParseError::Command(CommandError::Unknown { .. })
        ));
    }

    #[test]
    fn command_names_are_case_sensitive() {
        assert_eq!(
            parse_err("login alice|s3cret"),
            ParseError::Command(CommandError::Unknown {
                name: "login".into()
            })
        );
        assert!(SyncMessage::parse("HEARTBEAT").is_err());
    }

    #[test]
    fn nasty_fields_are_escaped_and_read_back() {
        let message = SyncMessage::Login {
            user: "a|b\\c".into(),
            password: "x\ny\r;z:".into(),
        };
        let line = message.encode();
        assert_eq!(line, "Login a\\|b\\\\c|x\\ny\\r;z:");
        assert_eq!(parse(&line), message);

        let message = SyncMessage::ReturnCaramerOnlineStatus(vec![
            ("id;1|x:".into(), OnlineStatus::Online),
            ("\\".into(), OnlineStatus::Unknown),
        ]);
        let line = message.encode();
        assert_eq!(line, "ReturnCaramerOnlineStatus id\\;1\\|x:;true|\\\\;null");
        assert_eq!(parse(&line), message);

        let message = SyncMessage::PrushCaramerAlarmInfo {
            camera_id: "cam:1|2".into(),
            alarm_type: "a:b;c".into(),
        };
        let line = message.encode();
        assert_eq!(line, "PrushCaramerAlarmInfo cam\\:1|2:a\\:b;c");
        assert_eq!(parse(&line), message);
    }

    #[test]
    fn only_the_commands_own_separators_split_its_parameter() {
        assert_eq!(
            parse("PrushCaramerAlarmInfo cam|1;x:motion|start"),
            SyncMessage::PrushCaramerAlarmInfo {
                camera_id: "cam|1;x".into(),
                alarm_type: "motion|start".into(),
            }
        );
        assert_eq!(
            parse("Login a:b;c|p:q"),
            SyncMessage::Login {
                user: "a:b;c".into(),
                password: "p:q".into(),
            }
        );
        assert_eq!(
            parse("LoginError a|b;c:d"),
            SyncMessage::LoginError {
                reason: "a|b;c:d".into()
            }
        );
    }

    #[test]
    fn a_wrong_field_count_says_how_many_were_expected_and_found() {
        let error = parse_err("Login alice");
        assert_eq!(
            error,
            ParseError::FieldCount {
                command: CommandName::Login,
                separator: '|',
                expected: 2,
                found: 1,
            }
        );
        assert_eq!(
            error.to_string(),
            "Login: expected 2 fields separated by `|`, found 1"
        );
        assert!(matches!(
            parse_err("Login a|b|c"),
            ParseError::FieldCount { found: 3, .. }
        ));
        assert!(matches!(
            parse_err("LoginOk 3"),
            ParseError::FieldCount {
                expected: 3,
                found: 1,
                ..
            }
        ));
        assert!(matches!(
            parse_err("PrushCaramerOnlineStatus cam1"),
            ParseError::FieldCount { separator: ':', .. }
        ));
    }

    #[test]
    fn numbers_are_plain_ascii_digits_within_range() {
        let error = parse_err("UploadCaramer cam|pw|one|2");
        assert_eq!(
            error,
            ParseError::BadNumber {
                command: CommandName::UploadCaramer,
                field: "current",
                value: "one".into(),
                max: u64::from(u32::MAX),
            }
        );
        assert_eq!(
            error.to_string(),
            "UploadCaramer: field `current` is not a number in 0..=4294967295: \"one\""
        );
        for bad in ["+1", "-1", " 1", "1 ", "", "4294967296", "1e3", "١"] {
            assert!(
                matches!(
                    SyncMessage::parse(&format!("DownLoadCaramer {bad}")),
                    Err(ParseError::BadNumber { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse("DownLoadCaramer 4294967295"),
            SyncMessage::DownLoadCaramer {
                downloaded: u32::MAX
            }
        );
        let leading_zeros = parse("DownLoadCaramer 007");
        assert_eq!(
            leading_zeros,
            SyncMessage::DownLoadCaramer { downloaded: 7 }
        );
        assert_eq!(leading_zeros.encode(), "DownLoadCaramer 7");
    }

    #[test]
    fn a_data_socket_token_is_asked_for_with_a_third_field_and_answered_after_the_port() {
        let asked = parse("CreatDataSocket alice|s3cret|token");
        assert_eq!(
            asked,
            SyncMessage::CreatDataSocket {
                user: "alice".into(),
                password: "s3cret".into(),
                token: true,
            }
        );
        assert_eq!(asked.encode(), "CreatDataSocket alice|s3cret|token");
        assert!(matches!(
            parse_err("CreatDataSocket alice|s3cret|please"),
            ParseError::BadStatus { field: "token", .. }
        ));
        assert!(matches!(
            parse_err("CreatDataSocket alice|s3cret|token|more"),
            ParseError::FieldCount {
                expected: 2,
                found: 4,
                ..
            }
        ));
        let answer = parse("ReturnDataSocketPort 35223|9f86d081884c7d65");
        assert_eq!(
            answer,
            SyncMessage::ReturnDataSocketPort(Some(DataPort {
                port: 35223,
                token: Some("9f86d081884c7d65".into()),
            }))
        );
        assert_eq!(
            answer.encode(),
            "ReturnDataSocketPort 35223|9f86d081884c7d65"
        );
        assert!(
            !format!("{answer:?}").contains("9f86"),
            "Debug hides the token"
        );
        assert!(!format!("{:?}", parse("BindDataSocket 9f86")).contains("9f86"));
    }

    #[test]
    fn a_port_beyond_65535_is_refused() {
        assert!(matches!(
            parse_err("ReturnDataSocketPort 65536"),
            ParseError::BadNumber {
                field: "port",
                max: 65535,
                ..
            }
        ));
        assert_eq!(
            parse("ReturnDataSocketPort 65535"),
            SyncMessage::ReturnDataSocketPort(Some(DataPort::plain(65535)))
        );
    }

    #[test]
    fn a_status_query_carries_at_most_twenty_ids() {
        assert!(matches!(
            parse(&format!("CheckCaramerOnlineStatus {}", ids(20))),
            SyncMessage::CheckCaramerOnlineStatus(list) if list.len() == 20
        ));
        let error = parse_err(&format!("CheckCaramerOnlineStatus {}", ids(21)));
        assert_eq!(
            error,
            ParseError::TooManyIds {
                command: CommandName::CheckCaramerOnlineStatus,
                count: 21,
                max: 20,
            }
        );
        assert_eq!(
            error.to_string(),
            "CheckCaramerOnlineStatus: 21 camera IDs in one query, at most 20 are allowed"
        );
        // An escaped `;` is part of an ID, not a 21st one.
        let line = format!("CheckCaramerOnlineStatus {}\\;x", ids(20));
        assert!(SyncMessage::parse(&line).is_ok());
    }

    #[test]
    fn an_empty_id_in_a_list_is_refused() {
        assert_eq!(
            parse_err("CheckCaramerOnlineStatus a;;b"),
            ParseError::EmptyId {
                command: CommandName::CheckCaramerOnlineStatus,
                index: 1,
            }
        );
        assert!(matches!(
            parse_err("CheckCaramerOnlineStatus a;"),
            ParseError::EmptyId { index: 1, .. }
        ));
        assert!(matches!(
            parse_err("ReturnCaramerOnlineStatus a;true|;false"),
            ParseError::EmptyId { index: 1, .. }
        ));
    }

    #[test]
    fn status_words_are_lower_case_and_pushes_never_say_null() {
        assert_eq!(
            parse_err("UploadSucess cam|True|1|1"),
            ParseError::BadStatus {
                command: CommandName::UploadSucess,
                field: "onlineStatus",
                value: "True".into(),
                allowed: "true, false or null",
            }
        );
        let error = parse_err("PrushCaramerOnlineStatus cam:null");
        assert_eq!(
            error.to_string(),
            "PrushCaramerOnlineStatus: field `status` must be true or false, found \"null\""
        );
        assert!(matches!(
            parse_err("ReturnCaramerOnlineStatus a;yes"),
            ParseError::BadStatus { .. }
        ));
    }

    #[test]
    fn a_status_entry_without_its_two_fields_names_its_position() {
        assert_eq!(
            parse_err("ReturnCaramerOnlineStatus a;true|b"),
            ParseError::EntryFieldCount {
                command: CommandName::ReturnCaramerOnlineStatus,
                index: 1,
                found: 1,
            }
        );
        assert!(matches!(
            parse_err("ReturnCaramerOnlineStatus a;true;x"),
            ParseError::EntryFieldCount {
                index: 0,
                found: 3,
                ..
            }
        ));
        assert!(matches!(
            parse_err("ReturnCaramerOnlineStatus a;true|"),
            ParseError::EntryFieldCount {
                index: 1,
                found: 1,
                ..
            }
        ));
    }

    #[test]
    fn heartbeat_takes_no_parameter() {
        assert_eq!(
            parse_err("Heartbeat now"),
            ParseError::UnexpectedParameter {
                command: CommandName::Heartbeat
            }
        );
    }

    #[test]
    fn a_bad_escape_names_the_field() {
        let error = parse_err("Login C:\\Users|pw");
        assert_eq!(
            error,
            ParseError::Escape {
                command: CommandName::Login,
                field: "user",
                source: EscapeError::UnknownEscape {
                    offset: 2,
                    found: 'U'
                },
            }
        );
        assert!(
            error
                .to_string()
                .starts_with("Login: field `user`: unknown escape `\\U`")
        );
        assert!(matches!(
            parse_err("LoginError oops\\"),
            ParseError::Escape {
                source: EscapeError::DanglingBackslash,
                ..
            }
        ));
    }

    #[test]
    fn an_empty_line_or_a_raw_line_feed_is_not_a_message() {
        assert_eq!(parse_err(""), ParseError::EmptyLine);
        assert_eq!(parse_err("Heartbeat\nHeartbeat"), ParseError::LineFeed);
        assert!(matches!(
            parse_err(" Heartbeat"),
            ParseError::Command(CommandError::Unknown { .. })
        ));
    }

    #[test]
    fn a_raw_carriage_return_inside_a_field_is_kept_and_written_escaped() {
        let message = parse("LoginError a\rb");
        assert_eq!(
            message,
            SyncMessage::LoginError {
                reason: "a\rb".into()
            }
        );
        assert_eq!(message.encode(), "LoginError a\\rb");
    }

    #[test]
    fn error_values_are_shortened() {
        let long = "9".repeat(1000);
        let ParseError::BadNumber { value, .. } = parse_err(&format!("DownLoadCaramer {long}"))
        else {
            panic!("expected BadNumber");
        };
        assert_eq!(value.len(), VALUE_PREVIEW_CHARS);
    }

    #[test]
    fn debug_output_hides_passwords() {
        let messages = [
            parse("Login alice|hunter2"),
            parse("CreatDataSocket alice|hunter2"),
            parse("UploadCaramer cam|hunter2|1|1"),
            parse("DownloadSucess cam|hunter2|true|1|1"),
        ];
        for message in messages {
            let debug = format!("{message:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(debug.contains("<redacted>"), "{debug}");
        }
        assert_eq!(
            format!("{:?}", parse("Login alice|hunter2")),
            "Login { user: \"alice\", password: \"<redacted>\" }"
        );
    }

    #[test]
    fn the_implied_commands_take_their_parameters_strictly() {
        for command in ["Logout", "LogoutOk"] {
            assert!(matches!(
                parse_err(&format!("{command} now")),
                ParseError::UnexpectedParameter { .. }
            ));
        }
        assert!(matches!(
            parse_err("ChangeCaramerPassword cam1"),
            ParseError::FieldCount {
                command: CommandName::ChangeCaramerPassword,
                expected: 2,
                found: 1,
                ..
            }
        ));
        assert!(matches!(
            parse_err("DeleteFail cam1"),
            ParseError::FieldCount { expected: 2, .. }
        ));
        // A bare camera ID splits on nothing: a `|` in it is part of the ID.
        assert_eq!(
            parse("DeleteCaramer cam|1"),
            SyncMessage::DeleteCaramer {
                camera_id: "cam|1".into()
            }
        );
        assert_eq!(
            parse("SocketCommand.CaramCommand.DeleteCaramer cam1"),
            parse("DeleteCaramer cam1")
        );
        assert_eq!(
            parse("SocketCommand.LoginCommand.Logout"),
            SyncMessage::Logout
        );
    }

    #[test]
    fn a_new_camera_password_with_separators_round_trips_and_is_hidden_from_debug() {
        let message = SyncMessage::ChangeCaramerPassword {
            camera_id: "cam|1".into(),
            camera_password: "p|w\\x:y;z".into(),
        };
        let line = message.encode();
        assert_eq!(line, "ChangeCaramerPassword cam\\|1|p\\|w\\\\x:y;z");
        assert_eq!(parse(&line), message);
        let debug = format!("{message:?}");
        assert!(!debug.contains("p|w"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn from_str_is_parse() {
        let message: SyncMessage = "Heartbeat".parse().expect("parses");
        assert_eq!(message, SyncMessage::Heartbeat);
    }
}
