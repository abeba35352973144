//! `homeport devices …`: the operator's device commands, as a client of the admin API.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use homeport::admin_api::{DeviceChange, DeviceView, Format, NewDevice};
use homeport::client::{self, AdminClient};
use homeport::device::LoginProtocol;
use homeport::secret::{ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE, Secret, env_admin_token};

/// Where the admin API is and how to authenticate to it.
#[derive(Debug, Args)]
pub(crate) struct Connect {
    /// The admin API (http://HOST:PORT) [default: http://$HOMEPORT_ADMIN when that is set,
    /// else http://127.0.0.1:9080].
    #[arg(long, value_name = "URL", global = true, env = "HOMEPORT_ADMIN_URL")]
    admin: Option<String>,
    /// The admin token [default: $HOMEPORT_ADMIN_TOKEN, else <DATA>/admin.token].
    #[arg(long, value_name = "TOKEN", global = true)]
    token: Option<String>,
    /// The gateway's data directory, to read admin.token from.
    #[arg(
        long,
        value_name = "DIR",
        global = true,
        env = "HOMEPORT_DATA",
        default_value = "./data"
    )]
    data: PathBuf,
}

impl Connect {
    /// A client with the token from the flag, the environment or the data directory.
    pub(crate) fn client(&self) -> anyhow::Result<AdminClient> {
        let token = match self.token.clone().filter(|t| !t.trim().is_empty()) {
            Some(token) => token,
            None => admin_token(&self.data)?,
        };
        Ok(AdminClient::new(&self.url(), token.trim())?)
    }

    /// `--admin`, else the gateway's own `HOMEPORT_ADMIN` address, else the default.
    fn url(&self) -> String {
        self.admin.clone().unwrap_or_else(|| {
            std::env::var("HOMEPORT_ADMIN")
                .ok()
                .filter(|a| !a.trim().is_empty())
                .map_or_else(
                    || client::DEFAULT_URL.to_owned(),
                    |a| format!("http://{}", a.trim()),
                )
        })
    }
}

/// The token the gateway uses: `$HOMEPORT_ADMIN_TOKEN` when set, else `<data>/admin.token`.
pub(crate) fn admin_token(data: &Path) -> anyhow::Result<String> {
    match env_admin_token() {
        Some(token) => Ok(token),
        None => read_token_file(data),
    }
}

/// The token in `<data>/admin.token`.
fn read_token_file(data: &Path) -> anyhow::Result<String> {
    let path = data.join(ADMIN_TOKEN_FILE);
    let token = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no admin token: pass --token, set {ADMIN_TOKEN_ENV}, or point --data at the \
             gateway's data directory (cannot read {})",
            path.display()
        )
    })?;
    Ok(token.trim().to_owned())
}

/// Options of `homeport devices`.
#[derive(Debug, Args)]
pub(crate) struct DevicesArgs {
    #[command(flatten)]
    connect: Connect,
    #[command(subcommand)]
    command: DevicesCommand,
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// List every device with its state.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only devices with this tag (repeat: devices with all of them).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Add a device; a connection waiting for it logs in at once.
    Add {
        /// The ID the device announces.
        id: String,
        /// Login user.
        #[arg(long)]
        user: String,
        /// Login password.
        #[command(flatten)]
        password: PasswordArgs,
        /// Login protocol.
        #[arg(long, value_enum)]
        protocol: Option<Protocol>,
        /// A name for people, e.g. "Gate, north side".
        #[arg(long)]
        name: Option<String>,
        /// A tag, e.g. site:berlin (repeat for more).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Also accept the connection the device is pending on now (you vouch for the address
        /// `devices list` shows).
        #[arg(long)]
        accept: bool,
    },
    /// Change a device's credentials, name or tags.
    Modify {
        /// Device ID.
        id: String,
        /// New login user.
        #[arg(long)]
        user: Option<String>,
        /// New login password.
        #[arg(long, allow_hyphen_values = true)]
        password: Option<String>,
        /// New login protocol.
        #[arg(long, value_enum)]
        protocol: Option<Protocol>,
        /// New name (`""` removes it).
        #[arg(long)]
        name: Option<String>,
        /// New tags, replacing all of them (repeat for more).
        #[arg(long = "tag", value_name = "TAG", conflicts_with = "no_tags")]
        tags: Vec<String>,
        /// Remove every tag.
        #[arg(long)]
        no_tags: bool,
    },
    /// Show one device: state, reason, the login that worked, what it reported at login.
    Show {
        /// Device ID.
        id: String,
    },
    /// Accept the connection a device is pending on: it was waiting before its credentials
    /// were added, and is logged in over only once you vouch for it.
    Accept {
        /// Device ID.
        id: String,
    },
    /// Forget what a device proved at its first login (realm, serial, type), for a replaced
    /// camera: its next login pins again.
    ForgetIdentity {
        /// Device ID.
        id: String,
    },
    /// Ask a connected device to log in now (an operator's request: it may use the try that
    /// automatic logins keep in reserve).
    Login {
        /// Device ID.
        id: String,
    },
    /// Start or stop a redacted two-way transcript of a device's socket, or save it.
    Trace {
        /// Device ID.
        id: String,
        /// Start writing it.
        #[arg(long, conflicts_with_all = ["off", "output"])]
        on: bool,
        /// Stop writing it (the file stays).
        #[arg(long, conflicts_with = "output")]
        off: bool,
        /// Save it here (`-` for standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Announce every device again (an `announced` event each: Home Assistant discovery
    /// lists them all, online or not).
    Announce,
    /// Delete a device and close its session.
    Delete {
        /// Device ID.
        id: String,
    },
    /// Add or replace devices from a .csv (id,username,password[,login_protocol[,name[,tags]]])
    /// or .json file, all or nothing.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// Export every device (passwords only with --secrets).
    Export {
        /// File format.
        #[arg(long, value_enum, default_value_t = FileFormat::Json)]
        format: FileFormat,
        /// Include passwords (needed to import the file again).
        #[arg(long)]
        secrets: bool,
        /// Write here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print a device's config table, or change it with --set (fields not named are kept).
    Config {
        /// Device ID.
        id: String,
        /// Table name, e.g. DVRIP.
        name: String,
        /// A JSON object merged into the table, e.g. '{"RegisterServer":{"Enable":true}}'.
        #[arg(long, value_name = "JSON")]
        set: Option<String>,
    },
    /// Save a JPEG snapshot of a device's channel.
    Snapshot {
        /// Device ID.
        id: String,
        /// Video channel (0-based).
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// The file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// A login protocol on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Protocol {
    /// DHIP two-step login.
    Dhip,
    /// DVRIP realm login.
    Dvrip,
    /// DVRIP first, DHIP as the fallback (the default).
    Auto,
    /// Also the logins that expose the password (3DES, Plain, OldDigest): 2010-era firmware
    /// on a trusted network only.
    Legacy,
}

impl From<Protocol> for LoginProtocol {
    fn from(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Dhip => Self::Dhip,
            Protocol::Dvrip => Self::Dvrip,
            Protocol::Auto => Self::Auto,
            Protocol::Legacy => Self::Legacy,
        }
    }
}

/// An import or export file format.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FileFormat {
    /// A JSON array of objects.
    Json,
    /// CSV with a header row.
    Csv,
}

impl From<FileFormat> for Format {
    fn from(format: FileFormat) -> Self {
        match format {
            FileFormat::Json => Self::Json,
            FileFormat::Csv => Self::Csv,
        }
    }
}

/// Runs a `homeport devices` command.
pub(crate) async fn run(args: DevicesArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    match args.command {
        DevicesCommand::List { json, tags } => {
            let mut devices = client.devices().await?;
            devices.retain(|d| tags.iter().all(|t| d.tags.contains(t)));
            if json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
            } else {
                print_table(&devices);
            }
        }
        DevicesCommand::Add {
            id,
            user,
            password,
            protocol,
            name,
            tags,
            accept,
        } => {
            let device = NewDevice {
                id,
                username: user,
                password: Secret::new(password.read()?),
                login_protocol: protocol.map(Into::into).unwrap_or_default(),
                name,
                tags: (!tags.is_empty()).then_some(tags),
                accept,
            };
            let view = client.add_device(&device).await?;
            println!("added {} ({})", view.id, view.state.as_str());
        }
        DevicesCommand::Modify {
            id,
            user,
            password,
            protocol,
            name,
            tags,
            no_tags,
        } => {
            let change = DeviceChange {
                username: user,
                password: password.map(Secret::new),
                login_protocol: protocol.map(Into::into),
                name,
                tags: (no_tags || !tags.is_empty()).then_some(tags),
            };
            if change.is_empty() {
                bail!(
                    "nothing to change: give --user, --password, --protocol, --name, --tag or --no-tags"
                );
            }
            let view = client.modify_device(&id, &change).await?;
            println!("modified {} ({})", view.id, view.state.as_str());
        }
        DevicesCommand::Show { id } => {
            let device = client.device(&id).await?;
            println!("{}", serde_json::to_string_pretty(&device)?);
        }
        DevicesCommand::Announce => {
            let report = client.announce().await?;
            println!("announced {} device(s)", report.announced);
        }
        DevicesCommand::Accept { id } => {
            client.accept(&id).await?;
            println!("accepted the connection {id} is pending on");
        }
        DevicesCommand::ForgetIdentity { id } => {
            client.forget_identity(&id).await?;
            println!("forgot the identity of {id}; its next login pins again");
        }
        DevicesCommand::Login { id } => {
            client.login(&id).await?;
            println!("asked {id} to log in");
        }
        DevicesCommand::Trace {
            id,
            on,
            off,
            output,
        } => {
            if on || off {
                let state = client.set_trace(&id, on).await?;
                let path = state.path;
                if on {
                    println!("tracing {id} into {path}");
                } else {
                    println!("stopped tracing {id}; the transcript stays in {path}");
                }
            } else {
                let Some(output) = output else {
                    bail!("give --on, --off or -o FILE");
                };
                let text = client.trace(&id).await?;
                let target = (output.as_os_str() != "-").then_some(output.as_path());
                write_output(target, &text)?;
            }
        }
        DevicesCommand::Delete { id } => {
            client.delete_device(&id).await?;
            println!("deleted {id}");
        }
        DevicesCommand::Import { file } => {
            let format = match file
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
            {
                Some(ext) if ext == "csv" => Format::Csv,
                Some(ext) if ext == "json" => Format::Json,
                _ => bail!("{}: expected a .csv or .json file", file.display()),
            };
            let body =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let report = client
                .import(body, format)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            println!(
                "imported {}: {} added, {} updated",
                file.display(),
                report.added,
                report.updated
            );
        }
        DevicesCommand::Export {
            format,
            secrets,
            output,
        } => {
            let body = client.export(format.into(), secrets).await?;
            write_output(output.as_deref(), &body)?;
        }
        DevicesCommand::Config { id, name, set } => {
            let table = match set {
                Some(patch) => {
                    let patch: serde_json::Value =
                        serde_json::from_str(&patch).context("--set is not valid JSON")?;
                    if !patch.is_object() {
                        bail!("--set must be a JSON object naming the fields to change");
                    }
                    client.update_config(&id, &name, &patch).await?
                }
                None => client.config(&id, &name).await?,
            };
            println!("{}", serde_json::to_string_pretty(&table)?);
        }
        DevicesCommand::Snapshot {
            id,
            channel,
            output,
        } => {
            let image = client.snapshot(&id, channel).await?;
            std::fs::write(&output, &image)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!("saved {} bytes to {}", image.len(), output.display());
        }
    }
    Ok(())
}

/// A password on the command line, or on standard input.
#[derive(Debug, Args)]
pub(super) struct PasswordArgs {
    /// The password.
    #[arg(
        long,
        allow_hyphen_values = true,
        required_unless_present = "password_stdin"
    )]
    password: Option<String>,
    /// Read the password from the first line of standard input instead.
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
}

impl PasswordArgs {
    pub(super) fn read(self) -> anyhow::Result<String> {
        match self.password {
            Some(password) => Ok(password),
            None if self.password_stdin => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                Ok(line.trim_end_matches(['\n', '\r']).to_owned())
            }
            None => bail!("give --password or --password-stdin"),
        }
    }
}

/// Writes an export or a transcript to `output` (readable by its owner only: an export may
/// hold passwords), or to standard output.
fn write_output(output: Option<&Path>, body: &[u8]) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            write_private(path, body).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(body)?;
            if !body.ends_with(b"\n") {
                stdout.write_all(b"\n")?;
            }
            Ok(())
        }
    }
}

/// Writes `body` to a file of mode 0600 (an existing file is narrowed to 0600 first).
fn write_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(body)?;
    file.sync_all()
}

/// Columns sized to their widest cell; the reason last, as it may be long.
fn print_table(devices: &[DeviceView]) {
    let rows: Vec<[String; 7]> = devices
        .iter()
        .map(|d| {
            [
                d.id.clone(),
                d.name.clone().unwrap_or_else(|| "-".to_owned()),
                if d.tags.is_empty() {
                    "-".to_owned()
                } else {
                    d.tags.join(" ")
                },
                d.state.as_str().to_owned(),
                d.addr.clone().unwrap_or_else(|| "-".to_owned()),
                d.last_seen.clone().unwrap_or_else(|| "-".to_owned()),
                d.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "ID",
        "NAME",
        "TAGS",
        "STATE",
        "ADDRESS",
        "LAST SEEN",
        "REASON",
    ]
    .map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if rows.is_empty() {
        let _ = writeln!(out, "(no devices)");
    }
}
