//! Calls on a logged-in session: keepalive, logout, snapshot, events, multicall, config and
//! device information.

use std::sync::Arc;

use homeport_protocol::rpc::config::{ALL, ConfigTable, GetConfigParams, MemberNames};
use homeport_protocol::rpc::device::{
    self, ActiveUsers, CurrentTimeParams, SerialParams, SoftwareVersion, SoftwareVersionParams,
    TypeParams,
};
use homeport_protocol::rpc::event::{AttachParams, AttachReplyParams};
use homeport_protocol::rpc::keepalive::KeepAliveReplyParams;
use homeport_protocol::rpc::snapshot::{SnapParams, SnapReplyParams};
use homeport_protocol::rpc::{Reply, Request, codes, method};
use homeport_protocol::wire::Framing;
use serde_json::Value;

use crate::camera::CONFIG_NAMES;
use crate::clock;
use crate::fault::Fault;
use crate::snapshot::JPEG;

use super::{Change, DEVICE_CLASS, DEVICE_TYPE, SOFTWARE_VERSION, Session, Subscription};

impl Session {
    /// Answers one call: the reply (none for an ignored keepalive), an optional binary
    /// payload to follow it, and what changed.
    pub(super) fn call(
        &mut self,
        request: &Request,
        transport: Framing,
    ) -> (Option<Reply>, Option<&'static [u8]>, Option<Change>) {
        if request.method == method::LOGIN {
            let (reply, change) = self.login(request, transport);
            return (Some(reply), None, change);
        }
        let Some(session) = self.logged_in() else {
            return (
                Some(
                    request.reply_error(codes::INVALID_SESSION, "Invalid session in request data!"),
                ),
                None,
                None,
            );
        };
        if request.session != session {
            return (
                Some(
                    request.reply_error(codes::INVALID_SESSION, "Invalid session in request data!"),
                ),
                None,
                None,
            );
        }
        match request.method.as_str() {
            method::KEEP_ALIVE => {
                let reply = (!self.camera.has(Fault::Silent)).then(|| {
                    request.reply(
                        true,
                        KeepAliveReplyParams {
                            timeout: self.camera.config().keep_alive_interval,
                        },
                    )
                });
                (reply, None, Some(Change::KeptAlive))
            }
            method::LOGOUT => {
                let reply = request.reply(true, Value::Null);
                self.close();
                (Some(reply), None, Some(Change::LoggedOut))
            }
            // A firmware without the JSON snapshot knows no such method (info_call says so).
            method::SNAP_PICTURE if !self.camera.firmware().has_json_snapshot() => {
                (Some(self.info_call(request)), None, None)
            }
            method::SNAP_PICTURE => match request.params::<SnapParams>() {
                Ok(SnapParams { channel }) if channel < self.camera.config().channels => {
                    let params = SnapReplyParams {
                        length: JPEG.len() as u64,
                        kind: "jpg".to_owned(),
                    };
                    (Some(request.reply(true, params)), Some(JPEG), None)
                }
                Ok(SnapParams { channel }) => (
                    Some(request.reply_error(codes::BAD_REQUEST, &format!("no channel {channel}"))),
                    None,
                    None,
                ),
                Err(e) => (
                    Some(request.reply_error(codes::BAD_REQUEST, &e.to_string())),
                    None,
                    None,
                ),
            },
            method::EVENT_ATTACH => match request.params::<AttachParams>() {
                Ok(params) => {
                    let sid = 513 + self.next_object;
                    self.next_object += 1;
                    self.subscription = Some(Subscription {
                        attach_id: request.id,
                        sid,
                        params,
                    });
                    (
                        Some(request.reply(true, AttachReplyParams { sid })),
                        None,
                        Some(Change::Attached),
                    )
                }
                Err(e) => (
                    Some(request.reply_error(codes::BAD_REQUEST, &e.to_string())),
                    None,
                    None,
                ),
            },
            method::MULTICALL => match device::multicall_requests(request) {
                Ok(calls) => {
                    let replies = calls.iter().map(|call| self.info_call(call)).collect();
                    (Some(device::multicall_reply(request, replies)), None, None)
                }
                Err(e) => (
                    Some(request.reply_error(codes::BAD_REQUEST, &e.to_string())),
                    None,
                    None,
                ),
            },
            _ => (Some(self.info_call(request)), None, None),
        }
    }

    /// Calls with a plain JSON answer: config, device info, event teardown.
    fn info_call(&mut self, request: &Request) -> Reply {
        let camera = Arc::clone(&self.camera);
        match request.method.as_str() {
            method::GET_CONFIG => match request.params::<GetConfigParams>() {
                Ok(GetConfigParams { name }) if name == ALL => request.reply(
                    true,
                    ConfigTable {
                        name: None,
                        table: camera.all_configs(),
                    },
                ),
                Ok(GetConfigParams { name }) => match camera.get_config(&name) {
                    Some(table) => request.reply(true, ConfigTable { name: None, table }),
                    None => request
                        .reply_error(codes::BAD_REQUEST, &format!("no config named {name:?}")),
                },
                Err(e) => request.reply_error(codes::BAD_REQUEST, &e.to_string()),
            },
            method::SET_CONFIG => match request.params::<ConfigTable>() {
                Ok(ConfigTable {
                    name: Some(name),
                    table,
                }) => match camera.set_config(&name, table) {
                    Ok(()) => request.reply(true, Value::Null),
                    Err(message) => request.reply_error(codes::BAD_REQUEST, &message),
                },
                Ok(ConfigTable { name: None, .. }) => {
                    request.reply_error(codes::BAD_REQUEST, "setConfig needs a name")
                }
                Err(e) => request.reply_error(codes::BAD_REQUEST, &e.to_string()),
            },
            method::GET_MEMBER_NAMES => request.reply(
                true,
                MemberNames {
                    names: CONFIG_NAMES.iter().map(|n| (*n).to_owned()).collect(),
                },
            ),
            method::EVENT_INSTANCE => {
                let object = self.next_object;
                self.next_object += 1;
                request.reply(object, Value::Null)
            }
            method::EVENT_DETACH | method::EVENT_DESTROY => {
                self.subscription = None;
                request.reply(true, Value::Null)
            }
            method::GET_DEVICE_TYPE => request.reply(
                true,
                TypeParams {
                    kind: DEVICE_TYPE.to_owned(),
                },
            ),
            method::GET_DEVICE_CLASS => request.reply(
                true,
                TypeParams {
                    kind: DEVICE_CLASS.to_owned(),
                },
            ),
            method::GET_SERIAL_NO => request.reply(
                true,
                SerialParams {
                    sn: camera.serial().to_owned(),
                },
            ),
            method::GET_SOFTWARE_VERSION => request.reply(
                true,
                SoftwareVersionParams {
                    version: SoftwareVersion {
                        version: SOFTWARE_VERSION.to_owned(),
                        build_date: "2024-01-15".to_owned(),
                    },
                },
            ),
            method::GET_CURRENT_TIME => request.reply(
                true,
                CurrentTimeParams {
                    time: clock::format_time(clock::unix_now()),
                },
            ),
            method::GET_ACTIVE_USERS => request.reply(
                true,
                ActiveUsers {
                    users: camera.users(),
                },
            ),
            _ => request.reply_error(
                codes::METHOD_NOT_FOUND,
                &format!("method {} not found", request.method),
            ),
        }
    }
}
