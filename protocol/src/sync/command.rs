//! The camera-sync command names, spelled byte-exact as in the seed (misspellings included).
//!
//! On the wire a command is its short name (`Login`). The seed writes every command as a C#-style
//! enum path (`SocketCommand.LoginCommand.Login`), so that dotted form is accepted on input too,
//! but only with the group the seed puts that command in: `SocketCommand.CaramCommand.Login` is
//! refused. The seed's PDF text sometimes shows a space after the last dot
//! (`SocketCommand.CaramCommand. UploadSucess`); that is a line-wrap artefact, and since a space
//! ends the command token, such a line does not parse. Names are case-sensitive.
//!
//! The seed is truncated; the commands it implies but does not show are ours, named in its
//! style (its misspellings `Caramer`, `Sucess` included, so an app's enum reads alike) and put
//! in the group where the seed's neighbours live:
//!
//! | Direction | Command | Parameter | Group | Meaning |
//! |---|---|---|---|---|
//! | both | `Heartbeat` | — | `NormalCommand` | Keep-alive on the main connection. |
//! | C→S | `Logout` | — | `LoginCommand` | Forget the session's account; pushes stop. |
//! | S→C | `LogoutOk` | — | `LoginCommand` | Logged out (also when nobody was logged in). |
//! | C→S | `DeleteCaramer` | `cameraID` | `CaramCommand` | Unbind a camera from the account. |
//! | S→C | `DeleteSucess` | `cameraID` | `CaramCommand` | Unbound. |
//! | S→C | `DeleteFail` | `cameraID\|reason` | `CaramCommand` | Not unbound (not bound, not logged in). |
//! | C→S | `ChangeCaramerPassword` | `cameraID\|newPassword` | `CaramCommand` | Replace the password of a bound camera (checked like an upload). |
//! | S→C | `ChangeSucess` | `cameraID` | `CaramCommand` | Password replaced. |
//! | S→C | `ChangeFail` | `cameraID\|reason` | `CaramCommand` | Not replaced (mismatch, not bound, not logged in). |
//! | C→S | `BindDataSocket` | `token` | `NormalCommand` | First line on a data connection: the one-time token `ReturnDataSocketPort` gave. |
//!
//! `CreatDataSocket user|password|token` (a third field, the word `token`) asks for that token;
//! the answer is then `ReturnDataSocketPort port|token`. Without the third field both lines are
//! the seed's.

use std::fmt;
use std::str::FromStr;

/// Prefix of the seed's login commands.
const LOGIN_GROUP: &str = "SocketCommand.LoginCommand";
/// Prefix of the seed's connection commands (and of our `Heartbeat`).
const NORMAL_GROUP: &str = "SocketCommand.NormalCommand";
/// Prefix of the seed's camera commands (the seed spells it `Caram`).
const CAMERA_GROUP: &str = "SocketCommand.CaramCommand";

/// Longest offending name copied into an error, in characters.
const NAME_PREVIEW_CHARS: usize = 64;

/// One camera-sync command name.
///
/// The variants are the seed's names, spelled as the seed spells them, plus [`Heartbeat`],
/// which the seed only mentions and the reference defines, and the commands the truncated seed
/// implies (logout, deleting a binding, changing a camera's password; see the
/// [module docs](self)).
///
/// [`Heartbeat`]: CommandName::Heartbeat
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandName {
    /// C→S `user|password`: log in on the main connection.
    Login,
    /// S→C `cameraCount|lastLoginTime|lastLoginIP`: login succeeded.
    LoginOk,
    /// S→C `reason`: login failed.
    LoginError,
    /// C→S `user|password` (`user|password|token` for a one-time token, ours): ask for a
    /// data connection (seed spelling).
    CreatDataSocket,
    /// S→C `port` (`port|token` when a token was asked for), or empty: where to open the data
    /// connection.
    ReturnDataSocketPort,
    /// C→S `cameraID|cameraPassword|current|total`: upload one camera (seed spelling).
    UploadCaramer,
    /// S→C `cameraID|onlineStatus|syncedCount|total`: upload accepted (seed spelling).
    UploadSucess,
    /// S→C `cameraID|reason|syncedCount|total`: upload refused.
    UploadFail,
    /// C→S `downloadedCount`: ask for the next camera (seed spelling and capitals).
    DownLoadCaramer,
    /// S→C `cameraID|cameraPassword|onlineStatus|current|total`: one camera (seed spelling).
    DownloadSucess,
    /// S→C `reason`: nothing to download.
    DownloadFail,
    /// C→S `id1;id2;…`: ask the online status of up to 20 cameras (seed spelling).
    CheckCaramerOnlineStatus,
    /// S→C `id1;status1|id2;status2|…`: the answer to a status query (seed spelling).
    ReturnCaramerOnlineStatus,
    /// S→C `cameraID:status`: a camera went on- or offline (seed spelling).
    PrushCaramerOnlineStatus,
    /// S→C `cameraID:alarmType`: a camera raised an alarm (seed spelling).
    PrushCaramerAlarmInfo,
    /// Both ways, no parameter: keep-alive on the main connection (ours, not in the seed).
    Heartbeat,
    /// C→S, no parameter: forget the session's account (ours, implied by the seed).
    Logout,
    /// S→C, no parameter: the session is logged out (ours).
    LogoutOk,
    /// C→S `cameraID`: unbind a camera from the account (ours, in the seed's spelling).
    DeleteCaramer,
    /// S→C `cameraID`: the camera was unbound (ours, in the seed's spelling).
    DeleteSucess,
    /// S→C `cameraID|reason`: the camera was not unbound (ours).
    DeleteFail,
    /// C→S `cameraID|newPassword`: replace a bound camera's password (ours, seed spelling).
    ChangeCaramerPassword,
    /// S→C `cameraID`: the password was replaced (ours, in the seed's spelling).
    ChangeSucess,
    /// S→C `cameraID|reason`: the password was not replaced (ours).
    ChangeFail,
    /// C→S `token`: the first line on a data connection, proving it belongs to the session
    /// that asked for the port (ours).
    BindDataSocket,
}

impl CommandName {
    /// Every command: the seed's in its order, then ours (`Heartbeat`, then the implied ones).
    pub const ALL: [CommandName; 25] = [
        CommandName::Login,
        CommandName::LoginOk,
        CommandName::LoginError,
        CommandName::CreatDataSocket,
        CommandName::ReturnDataSocketPort,
        CommandName::UploadCaramer,
        CommandName::UploadSucess,
        CommandName::UploadFail,
        CommandName::DownLoadCaramer,
        CommandName::DownloadSucess,
        CommandName::DownloadFail,
        CommandName::CheckCaramerOnlineStatus,
        CommandName::ReturnCaramerOnlineStatus,
        CommandName::PrushCaramerOnlineStatus,
        CommandName::PrushCaramerAlarmInfo,
        CommandName::Heartbeat,
        CommandName::Logout,
        CommandName::LogoutOk,
        CommandName::DeleteCaramer,
        CommandName::DeleteSucess,
        CommandName::DeleteFail,
        CommandName::ChangeCaramerPassword,
        CommandName::ChangeSucess,
        CommandName::ChangeFail,
        CommandName::BindDataSocket,
    ];

    /// The short name sent on the wire, e.g. `"UploadCaramer"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CommandName::Login => "Login",
            CommandName::LoginOk => "LoginOk",
            CommandName::LoginError => "LoginError",
            CommandName::CreatDataSocket => "CreatDataSocket",
            CommandName::ReturnDataSocketPort => "ReturnDataSocketPort",
            CommandName::UploadCaramer => "UploadCaramer",
            CommandName::UploadSucess => "UploadSucess",
            CommandName::UploadFail => "UploadFail",
            CommandName::DownLoadCaramer => "DownLoadCaramer",
            CommandName::DownloadSucess => "DownloadSucess",
            CommandName::DownloadFail => "DownloadFail",
            CommandName::CheckCaramerOnlineStatus => "CheckCaramerOnlineStatus",
            CommandName::ReturnCaramerOnlineStatus => "ReturnCaramerOnlineStatus",
            CommandName::PrushCaramerOnlineStatus => "PrushCaramerOnlineStatus",
            CommandName::PrushCaramerAlarmInfo => "PrushCaramerAlarmInfo",
            CommandName::Heartbeat => "Heartbeat",
            CommandName::Logout => "Logout",
            CommandName::LogoutOk => "LogoutOk",
            CommandName::DeleteCaramer => "DeleteCaramer",
            CommandName::DeleteSucess => "DeleteSucess",
            CommandName::DeleteFail => "DeleteFail",
            CommandName::ChangeCaramerPassword => "ChangeCaramerPassword",
            CommandName::ChangeSucess => "ChangeSucess",
            CommandName::ChangeFail => "ChangeFail",
            CommandName::BindDataSocket => "BindDataSocket",
        }
    }

    /// The seed's enum path before the name, e.g. `"SocketCommand.LoginCommand"`.
    ///
    /// `Heartbeat` is not in the seed; we place it with the connection commands. Our logout
    /// commands go with the login ones, our camera commands with the seed's camera commands.
    pub const fn group(self) -> &'static str {
        match self {
            CommandName::Login
            | CommandName::LoginOk
            | CommandName::LoginError
            | CommandName::Logout
            | CommandName::LogoutOk => LOGIN_GROUP,
            CommandName::CreatDataSocket
            | CommandName::ReturnDataSocketPort
            | CommandName::BindDataSocket
            | CommandName::Heartbeat => NORMAL_GROUP,
            CommandName::UploadCaramer
            | CommandName::UploadSucess
            | CommandName::UploadFail
            | CommandName::DownLoadCaramer
            | CommandName::DownloadSucess
            | CommandName::DownloadFail
            | CommandName::CheckCaramerOnlineStatus
            | CommandName::ReturnCaramerOnlineStatus
            | CommandName::PrushCaramerOnlineStatus
            | CommandName::PrushCaramerAlarmInfo
            | CommandName::DeleteCaramer
            | CommandName::DeleteSucess
            | CommandName::DeleteFail
            | CommandName::ChangeCaramerPassword
            | CommandName::ChangeSucess
            | CommandName::ChangeFail => CAMERA_GROUP,
        }
    }

    /// The short name only, case-sensitive: `"Login"` but not `"login"` nor a dotted path.
    pub fn from_short_name(name: &str) -> Option<CommandName> {
        CommandName::ALL
            .into_iter()
            .find(|command| command.as_str() == name)
    }

    /// Reads a command token: the short name, or the seed's full dotted path
    /// (`SocketCommand.LoginCommand.Login`) with that command's own group. Case-sensitive.
    pub fn parse(token: &str) -> Result<CommandName, CommandError> {
        let Some((group, name)) = token.rsplit_once('.') else {
            return CommandName::from_short_name(token).ok_or_else(|| CommandError::Unknown {
                name: preview(token),
            });
        };
        let command = CommandName::from_short_name(name).ok_or_else(|| CommandError::Unknown {
            name: preview(token),
        })?;
        if group != command.group() {
            return Err(CommandError::WrongGroup {
                path: preview(token),
                expected: command.group(),
                command,
            });
        }
        Ok(command)
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CommandName {
    type Err = CommandError;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        CommandName::parse(token)
    }
}

/// Why a command token is not a camera-sync command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Neither a known short name nor a dotted path ending in one (names are case-sensitive).
    #[error("unknown camera-sync command {name:?}")]
    Unknown {
        /// The token as received (at most 64 characters of it).
        name: String,
    },
    /// A dotted path ending in a known name, but not under the seed's group for it.
    #[error("camera-sync command path {path:?} should be {expected}.{command}")]
    WrongGroup {
        /// The token as received (at most 64 characters of it).
        path: String,
        /// The command its last segment names.
        command: CommandName,
        /// The group the seed puts that command in.
        expected: &'static str,
    },
}

/// The start of an untrusted token, short enough to log.
fn preview(token: &str) -> String {
    token.chars().take(NAME_PREVIEW_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_short_name_parses_back_to_its_command() {
        for command in CommandName::ALL {
            assert_eq!(CommandName::parse(command.as_str()), Ok(command));
            assert_eq!(command.to_string(), command.as_str());
        }
    }

    #[test]
    fn seed_spellings_are_kept_byte_exact() {
        let names: Vec<&str> = CommandName::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "Login",
                "LoginOk",
                "LoginError",
                "CreatDataSocket",
                "ReturnDataSocketPort",
                "UploadCaramer",
                "UploadSucess",
                "UploadFail",
                "DownLoadCaramer",
                "DownloadSucess",
                "DownloadFail",
                "CheckCaramerOnlineStatus",
                "ReturnCaramerOnlineStatus",
                "PrushCaramerOnlineStatus",
                "PrushCaramerAlarmInfo",
                "Heartbeat",
                "Logout",
                "LogoutOk",
                "DeleteCaramer",
                "DeleteSucess",
                "DeleteFail",
                "ChangeCaramerPassword",
                "ChangeSucess",
                "ChangeFail",
                "BindDataSocket",
            ]
        );
    }

    #[test]
    fn the_seed_dotted_paths_are_accepted() {
        // Copied from the seed text (with the PDF's stray space after the last dot removed).
        let seed_paths = [
            ("SocketCommand.LoginCommand.Login", CommandName::Login),
            ("SocketCommand.LoginCommand.LoginOk", CommandName::LoginOk),
            (
                "SocketCommand.LoginCommand.LoginError",
                CommandName::LoginError,
            ),
            (
                "SocketCommand.NormalCommand.CreatDataSocket",
                CommandName::CreatDataSocket,
            ),
            (
                "SocketCommand.NormalCommand.ReturnDataSocketPort",
                CommandName::ReturnDataSocketPort,
            ),
            (
                "SocketCommand.CaramCommand.UploadCaramer",
                CommandName::UploadCaramer,
            ),
            (
                "SocketCommand.CaramCommand.UploadSucess",
                CommandName::UploadSucess,
            ),
            (
                "SocketCommand.CaramCommand.UploadFail",
                CommandName::UploadFail,
            ),
            (
                "SocketCommand.CaramCommand.DownLoadCaramer",
                CommandName::DownLoadCaramer,
            ),
            (
                "SocketCommand.CaramCommand.DownloadSucess",
                CommandName::DownloadSucess,
            ),
            (
                "SocketCommand.CaramCommand.DownloadFail",
                CommandName::DownloadFail,
            ),
            (
                "SocketCommand.CaramCommand.CheckCaramerOnlineStatus",
                CommandName::CheckCaramerOnlineStatus,
            ),
            (
                "SocketCommand.CaramCommand.ReturnCaramerOnlineStatus",
                CommandName::ReturnCaramerOnlineStatus,
            ),
            (
                "SocketCommand.CaramCommand.PrushCaramerOnlineStatus",
                CommandName::PrushCaramerOnlineStatus,
            ),
            (
                "SocketCommand.CaramCommand.PrushCaramerAlarmInfo",
                CommandName::PrushCaramerAlarmInfo,
            ),
        ];
        for (path, command) in seed_paths {
            assert_eq!(CommandName::parse(path), Ok(command), "{path}");
            assert_eq!(format!("{}.{}", command.group(), command), path);
        }
    }

    #[test]
    fn heartbeat_has_a_dotted_path_with_the_connection_commands() {
        assert_eq!(
            CommandName::parse("SocketCommand.NormalCommand.Heartbeat"),
            Ok(CommandName::Heartbeat)
        );
    }

    #[test]
    fn the_implied_commands_live_in_the_seeds_groups() {
        let paths = [
            ("SocketCommand.LoginCommand.Logout", CommandName::Logout),
            ("SocketCommand.LoginCommand.LogoutOk", CommandName::LogoutOk),
            (
                "SocketCommand.CaramCommand.DeleteCaramer",
                CommandName::DeleteCaramer,
            ),
            (
                "SocketCommand.CaramCommand.DeleteSucess",
                CommandName::DeleteSucess,
            ),
            (
                "SocketCommand.CaramCommand.DeleteFail",
                CommandName::DeleteFail,
            ),
            (
                "SocketCommand.CaramCommand.ChangeCaramerPassword",
                CommandName::ChangeCaramerPassword,
            ),
            (
                "SocketCommand.CaramCommand.ChangeSucess",
                CommandName::ChangeSucess,
            ),
            (
                "SocketCommand.CaramCommand.ChangeFail",
                CommandName::ChangeFail,
            ),
        ];
        for (path, command) in paths {
            assert_eq!(CommandName::parse(path), Ok(command), "{path}");
            assert_eq!(format!("{}.{}", command.group(), command), path);
        }
        assert_eq!(
            CommandName::parse("SocketCommand.NormalCommand.BindDataSocket"),
            Ok(CommandName::BindDataSocket)
        );
        assert!(CommandName::parse("SocketCommand.CaramCommand.Logout").is_err());
        assert!(CommandName::parse("SocketCommand.LoginCommand.DeleteCaramer").is_err());
    }

    #[test]
    fn a_dotted_path_with_another_group_is_refused_and_says_which_was_expected() {
        let error =
            CommandName::parse("SocketCommand.CaramCommand.Login").expect_err("wrong group");
        assert_eq!(
            error,
            CommandError::WrongGroup {
                path: "SocketCommand.CaramCommand.Login".to_owned(),
                command: CommandName::Login,
                expected: "SocketCommand.LoginCommand",
            }
        );
        assert_eq!(
            error.to_string(),
            "camera-sync command path \"SocketCommand.CaramCommand.Login\" should be \
             SocketCommand.LoginCommand.Login"
        );
        assert!(CommandName::parse(".Login").is_err());
        assert!(CommandName::parse("LoginCommand.Login").is_err());
        assert!(CommandName::parse("x.SocketCommand.LoginCommand.Login").is_err());
    }

    #[test]
    fn names_are_case_sensitive() {
        for token in [
            "login",
            "LOGIN",
            "Loginok",
            "UploadCaramer ",
            "UploadSuccess",
            "DownloadCaramer",
            "logout",
            "DeleteCamera",
            "ChangeSuccess",
            "heartbeat",
            "socketcommand.logincommand.Login",
            "SocketCommand.LoginCommand.login",
        ] {
            assert!(
                CommandName::parse(token).is_err(),
                "{token:?} must be refused"
            );
        }
    }

    #[test]
    fn an_unknown_name_is_reported_shortened() {
        let long = "X".repeat(10_000);
        let CommandError::Unknown { name } = CommandName::parse(&long).expect_err("unknown") else {
            panic!("expected Unknown");
        };
        assert_eq!(name.len(), NAME_PREVIEW_CHARS);
        assert_eq!(
            CommandName::parse("Logoff")
                .expect_err("unknown")
                .to_string(),
            "unknown camera-sync command \"Logoff\""
        );
    }
}
