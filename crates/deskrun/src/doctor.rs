//! Environment checks behind `deskrun doctor` (and the app's diagnostics view): is what
//! deskrun needs on this machine present, recent enough and reachable? Each [`Check`] ends as
//! pass, warn or fail, with a message and, unless it passed, the fix.
//!
//! Every problem is a check result, never an error: a doctor that stopped at the first fault
//! would hide the others. What it reads comes through [`DoctorEnv`]: its `root` (`/`, or
//! `$DESKRUN_DOCTOR_ROOT`) is where `/proc/sys` and `/sys/fs/cgroup` are read from, so tests
//! give it files instead of a kernel. It does not fix anything itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::process::{self, DockerEndpoint, DockerSource, Program};
use crate::secrets::{self, SecretStore};

/// `fs.inotify.max_user_watches` that kind's nodes need (kind's own known-issues advice).
pub const MIN_INOTIFY_WATCHES: u64 = 524_288;

/// `fs.inotify.max_user_instances` that kind's nodes need.
pub const MIN_INOTIFY_INSTANCES: u64 = 512;

/// The oldest kind deskrun works with (major, minor).
pub const MIN_KIND: (u64, u64) = (0, 20);

/// The oldest Helm deskrun works with (major, minor).
pub const MIN_HELM: (u64, u64) = (3, 12);

/// Below this much free space in the data directory, `doctor` warns.
pub const DISK_WARN_BYTES: u64 = 20 * GIB;

/// Below this much free space in the data directory, `doctor` fails.
pub const DISK_FAIL_BYTES: u64 = 5 * GIB;

/// The variable that moves the root `/proc/sys` and `/sys/fs/cgroup` are read under.
pub const ROOT_ENV: &str = "DESKRUN_DOCTOR_ROOT";

const GIB: u64 = 1024 * 1024 * 1024;

/// How long a daemon (Docker, D-Bus) may take to answer before it counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(3);

const NOTIFICATIONS_NAME: &str = "org.freedesktop.Notifications";
const TRAY_WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All is well.
    Pass,
    /// deskrun works, but something is degraded or could not be checked.
    Warn,
    /// deskrun cannot work until this is fixed.
    Fail,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable identifier (`docker`, `kind`, `inotify-watches`, …) for scripts.
    pub id: &'static str,
    /// What was checked, for people.
    pub title: &'static str,
    /// How it ended.
    pub status: Status,
    /// What was found.
    pub message: String,
    /// What to do about it; `None` when it passed.
    pub fix: Option<String>,
}

impl Check {
    fn pass(id: &'static str, title: &'static str, message: String) -> Self {
        Self { id, title, status: Status::Pass, message, fix: None }
    }

    fn warn(id: &'static str, title: &'static str, message: String, fix: String) -> Self {
        Self { id, title, status: Status::Warn, message, fix: Some(fix) }
    }

    fn fail(id: &'static str, title: &'static str, message: String, fix: String) -> Self {
        Self { id, title, status: Status::Fail, message, fix: Some(fix) }
    }

    fn not_applicable(id: &'static str, title: &'static str) -> Self {
        Self::pass(id, title, format!("not applicable on {}", std::env::consts::OS))
    }
}

/// How many checks ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Warned.
    pub warn: usize,
    /// Failed.
    pub fail: usize,
}

/// Every check, in a fixed order, and the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
    /// The counts.
    pub summary: Summary,
}

impl Report {
    fn new(checks: Vec<Check>) -> Self {
        let mut summary = Summary::default();
        for check in &checks {
            match check.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
            }
        }
        Self { checks, summary }
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }
}

/// What the checks look at.
#[derive(Debug, Clone)]
pub struct DoctorEnv {
    /// Where `proc/sys/…` and `sys/fs/cgroup/…` are read from: `/` on a real machine.
    pub root: PathBuf,
    /// deskrun's data directory, whose file system needs free space.
    pub data_dir: Option<PathBuf>,
    /// Where the Docker daemon is.
    pub docker: DockerEndpoint,
    /// The kind executable.
    pub kind: Program,
    /// The helm executable.
    pub helm: Program,
    /// The keyring.
    pub secrets: SecretStore,
}

impl DoctorEnv {
    /// This machine, as the CLI sees it: `$DESKRUN_DOCTOR_ROOT` (or `/`), the data directory,
    /// the Docker endpoint, kind and helm as deskrun runs them, and the OS keyring.
    pub fn from_env() -> Self {
        let root = std::env::var_os(ROOT_ENV).filter(|r| !r.is_empty()).map(PathBuf::from);
        Self {
            root: root.unwrap_or_else(|| PathBuf::from("/")),
            data_dir: crate::paths::data_dir(),
            docker: process::docker_endpoint(),
            kind: Program::kind(),
            helm: Program::helm(),
            secrets: SecretStore::from_env(),
        }
    }
}

/// Runs every check. Never fails: each problem is in the report.
#[tracing::instrument(skip_all, fields(root = %env.root.display()))]
pub async fn run(env: &DoctorEnv) -> Report {
    let docker = env.docker.clone();
    let docker = blocking("docker", "Docker daemon", move || check_docker(&docker));
    let secrets = env.secrets.clone();
    let keyring = blocking("keyring", "OS keyring", move || check_keyring(&secrets));
    let desktop = tokio::task::spawn_blocking(check_desktop_services);
    let kind = check_version(&env.kind, &["version"], MIN_KIND, KIND_TOOL);
    let helm = check_version(&env.helm, &["version", "--short"], MIN_HELM, HELM_TOOL);
    let (docker, kind, helm, keyring, desktop) = tokio::join!(docker, kind, helm, keyring, desktop);
    let [notifications, tray] = desktop.unwrap_or_else(|e| {
        let crashed = |id, title| crashed_check(id, title, &e);
        [crashed("notifications", "Notification service"), crashed("tray", "Tray host")]
    });
    let checks = vec![
        docker,
        kind,
        helm,
        check_inotify(&env.root, INOTIFY_WATCHES),
        check_inotify(&env.root, INOTIFY_INSTANCES),
        check_disk(env.data_dir.as_deref()),
        check_cgroup(&env.root),
        keyring,
        notifications,
        tray,
    ];
    Report::new(checks)
}

async fn blocking(
    id: &'static str,
    title: &'static str,
    check: impl FnOnce() -> Check + Send + 'static,
) -> Check {
    tokio::task::spawn_blocking(check).await.unwrap_or_else(|e| crashed_check(id, title, &e))
}

fn crashed_check(id: &'static str, title: &'static str, error: &tokio::task::JoinError) -> Check {
    Check::warn(
        id,
        title,
        format!("the check itself crashed: {error}"),
        "run `deskrun doctor --verbose` and report the output".to_owned(),
    )
}

// --- Docker -------------------------------------------------------------------------------

fn check_docker(endpoint: &DockerEndpoint) -> Check {
    const ID: &str = "docker";
    const TITLE: &str = "Docker daemon";
    let start_it = "start Docker (`sudo systemctl start docker`, or Docker Desktop), or point \
                    DOCKER_HOST (or `docker context use`) at the daemon that runs";
    let Some(host) = endpoint.host.as_deref() else {
        return Check::fail(
            ID,
            TITLE,
            format!("{endpoint} has no endpoint deskrun can read"),
            "check it with `docker context inspect`, or switch with `docker context use default`"
                .to_owned(),
        );
    };
    let place = describe_endpoint(endpoint, host);
    let answer = if let Some(path) = host.strip_prefix("unix://") {
        ping_unix(Path::new(path))
    } else if let Some(address) = host.strip_prefix("tcp://") {
        if endpoint.tls {
            // NB: deskrun has no Docker TLS client; that the port accepts is as far as it goes.
            return match connect_tcp(address) {
                Ok(_) => Check::pass(ID, TITLE, format!("{place} accepts connections (TLS)")),
                Err(reason) => Check::fail(
                    ID,
                    TITLE,
                    format!("cannot reach {place}: {reason}"),
                    start_it.into(),
                ),
            };
        }
        connect_tcp(address).and_then(|stream| ping(stream, address))
    } else if host.starts_with("ssh://") {
        return Check::warn(
            ID,
            TITLE,
            format!("{place} is reached over ssh, which deskrun does not check"),
            "check it with `docker info`".to_owned(),
        );
    } else {
        return Check::fail(
            ID,
            TITLE,
            format!("{place} is not an address deskrun understands"),
            "use unix:///path/to/docker.sock or tcp://HOST:PORT".to_owned(),
        );
    };
    match answer {
        Ok(Some(api)) => Check::pass(ID, TITLE, format!("{place} answers (API {api})")),
        Ok(None) => Check::pass(ID, TITLE, format!("{place} answers")),
        Err(reason) if reason.contains("ermission denied") => Check::fail(
            ID,
            TITLE,
            format!("cannot reach {place}: {reason}"),
            "add yourself to the docker group (`sudo usermod -aG docker $USER`) and log in again"
                .to_owned(),
        ),
        Err(reason) => {
            Check::fail(ID, TITLE, format!("cannot reach {place}: {reason}"), start_it.to_owned())
        }
    }
}

fn describe_endpoint(endpoint: &DockerEndpoint, host: &str) -> String {
    match endpoint.source {
        DockerSource::ContextVariable(_) | DockerSource::CurrentContext(_) => {
            format!("{endpoint} at {host}")
        }
        DockerSource::HostVariable | DockerSource::Default => endpoint.to_string(),
    }
}

fn ping_unix(path: &Path) -> Result<Option<String>, String> {
    let stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| e.to_string())?;
    ping(stream, "docker")
}

fn connect_tcp(address: &str) -> Result<std::net::TcpStream, String> {
    use std::net::ToSocketAddrs;
    let address = address.trim_end_matches('/');
    let mut last = format!("{address} resolves to no address");
    for socket in address.to_socket_addrs().map_err(|e| e.to_string())? {
        match std::net::TcpStream::connect_timeout(&socket, TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// `GET /_ping` on a connected stream: the Docker API's health check. Returns the API version
/// the daemon announces.
fn ping<S: std::io::Read + std::io::Write + SetTimeouts>(
    mut stream: S,
    host: &str,
) -> Result<Option<String>, String> {
    use std::io::Read;
    stream.set_timeouts(TIMEOUT).map_err(|e| e.to_string())?;
    let request = format!("GET /_ping HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    // NB: the daemon closes the connection after answering; a timeout after the headers
    // arrived still counts as an answer.
    if let Err(e) = stream.take(64 * 1024).read_to_end(&mut response)
        && response.is_empty()
    {
        return Err(format!("no answer to GET /_ping: {e}"));
    }
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(format!("GET /_ping answered {status_line:?}, not 200 OK"));
    }
    let api = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("api-version"))
        .map(|(_, value)| value.trim().to_owned());
    Ok(api)
}

/// Read and write timeouts on the socket kinds `ping` talks over.
trait SetTimeouts {
    fn set_timeouts(&self, timeout: Duration) -> std::io::Result<()>;
}

impl SetTimeouts for std::os::unix::net::UnixStream {
    fn set_timeouts(&self, timeout: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(timeout))?;
        self.set_write_timeout(Some(timeout))
    }
}

impl SetTimeouts for std::net::TcpStream {
    fn set_timeouts(&self, timeout: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(timeout))?;
        self.set_write_timeout(Some(timeout))
    }
}

// --- kind and Helm ------------------------------------------------------------------------

/// What `check_version` needs to know about a tool.
struct Tool {
    id: &'static str,
    title: &'static str,
    env: &'static str,
    upgrade: &'static str,
}

const KIND_TOOL: Tool = Tool {
    id: "kind",
    title: "kind",
    env: "DESKRUN_KIND",
    upgrade: "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
};

const HELM_TOOL: Tool = Tool {
    id: "helm",
    title: "Helm",
    env: "DESKRUN_HELM",
    upgrade: "https://helm.sh/docs/intro/install/",
};

async fn check_version(program: &Program, args: &[&str], min: (u64, u64), tool: Tool) -> Check {
    let Tool { id, title, env, upgrade } = tool;
    let argv: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let command = format!("{} {}", program.name(), args.join(" "));
    let output = match program.run(&argv, None).await {
        Ok(output) => output,
        Err(process::Error::NotFound { program, install_hint }) => {
            return Check::fail(
                id,
                title,
                format!("{program} is not on PATH"),
                install_hint.into(),
            );
        }
        Err(error @ process::Error::BadOverride { .. }) => {
            return Check::fail(id, title, error.to_string(), format!("fix or unset {env}"));
        }
        Err(error) => {
            let fix = format!("reinstall it ({upgrade}), or set {env} to a working one");
            return Check::fail(id, title, format!("`{command}` failed: {error}"), fix);
        }
    };
    let text = String::from_utf8_lossy(&output);
    let wanted = format!("{}.{}", min.0, min.1);
    let Some((version, found)) = parse_version(&text) else {
        return Check::warn(
            id,
            title,
            format!("cannot tell the version from `{command}`: {:?}", text.trim()),
            format!("make sure it is {title} {wanted} or newer"),
        );
    };
    if found < min {
        return Check::fail(
            id,
            title,
            format!("{title} {version} is older than {wanted}"),
            format!("install {title} {wanted} or newer ({upgrade}), or set {env} to one"),
        );
    }
    Check::pass(id, title, format!("{title} {version}"))
}

/// The first `vMAJOR.MINOR…` word in a tool's version output, and its (major, minor).
fn parse_version(output: &str) -> Option<(String, (u64, u64))> {
    output.split_whitespace().find_map(|word| {
        let rest = word.strip_prefix('v')?;
        let mut parts = rest.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((word.to_owned(), (major, minor)))
    })
}

// --- kernel limits, disk, cgroups -----------------------------------------------------------

/// One inotify limit.
struct InotifyLimit {
    id: &'static str,
    title: &'static str,
    key: &'static str,
    min: u64,
}

const INOTIFY_WATCHES: InotifyLimit = InotifyLimit {
    id: "inotify-watches",
    title: "inotify watches",
    key: "fs.inotify.max_user_watches",
    min: MIN_INOTIFY_WATCHES,
};

const INOTIFY_INSTANCES: InotifyLimit = InotifyLimit {
    id: "inotify-instances",
    title: "inotify instances",
    key: "fs.inotify.max_user_instances",
    min: MIN_INOTIFY_INSTANCES,
};

fn check_inotify(root: &Path, limit: InotifyLimit) -> Check {
    let InotifyLimit { id, title, key, min } = limit;
    if !cfg!(target_os = "linux") {
        // NB: Docker Desktop's VM has its own kernel and limits, set by Docker.
        return Check::not_applicable(id, title);
    }
    let path = root.join("proc/sys").join(key.replace('.', "/"));
    let value = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u64>().map_err(|e| format!("{:?}: {e}", text.trim())),
        Err(e) => Err(e.to_string()),
    };
    let value = match value {
        Ok(value) => value,
        Err(reason) => {
            return Check::warn(
                id,
                title,
                format!("cannot read {}: {reason}", path.display()),
                format!("check it with `sysctl {key}`; kind needs at least {min}"),
            );
        }
    };
    if value < min {
        return Check::fail(
            id,
            title,
            format!(
                "{key} is {value}; kind needs at least {min} (below it, pods fail with \"too \
                 many open files\")"
            ),
            format!(
                "sudo sysctl -w {key}={min}; to keep it after a reboot: echo '{key} = {min}' | \
                 sudo tee -a /etc/sysctl.d/90-deskrun.conf (NixOS: boot.kernel.sysctl)"
            ),
        );
    }
    Check::pass(id, title, format!("{key} is {value} (at least {min})"))
}

fn check_disk(data_dir: Option<&Path>) -> Check {
    const ID: &str = "disk";
    const TITLE: &str = "Free disk";
    let Some(dir) = data_dir else {
        return Check::warn(
            ID,
            TITLE,
            "there is no data directory to check".to_owned(),
            "set DESKRUN_DATA_DIR or HOME".to_owned(),
        );
    };
    // The directory may not exist yet: its file system is that of its nearest ancestor.
    let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"));
    let free = match rustix::fs::statvfs(existing) {
        Ok(stat) => stat.f_bavail.saturating_mul(stat.f_frsize),
        Err(e) => {
            return Check::warn(
                ID,
                TITLE,
                format!("cannot read the free space of {}: {e}", existing.display()),
                format!("check it with `df -h {}`", existing.display()),
            );
        }
    };
    #[allow(clippy::cast_precision_loss)]
    let message = format!("{:.1} GiB free for {}", free as f64 / GIB as f64, dir.display());
    let fix = format!(
        "free space on that file system (runner caches and kind's images live there), or move \
         deskrun's data with DESKRUN_DATA_DIR; {} GiB is comfortable",
        DISK_WARN_BYTES / GIB
    );
    if free < DISK_FAIL_BYTES {
        Check::fail(ID, TITLE, message, fix)
    } else if free < DISK_WARN_BYTES {
        Check::warn(ID, TITLE, message, fix)
    } else {
        Check::pass(ID, TITLE, message)
    }
}

fn check_cgroup(root: &Path) -> Check {
    const ID: &str = "cgroup";
    const TITLE: &str = "cgroup version";
    if !cfg!(target_os = "linux") {
        return Check::not_applicable(ID, TITLE);
    }
    let cgroup = root.join("sys/fs/cgroup");
    if let Ok(controllers) = std::fs::read_to_string(cgroup.join("cgroup.controllers")) {
        let controllers = controllers.split_whitespace().collect::<Vec<_>>().join(" ");
        return Check::pass(ID, TITLE, format!("cgroup v2 (controllers: {controllers})"));
    }
    if cgroup.is_dir() {
        return Check::warn(
            ID,
            TITLE,
            "cgroup v1: Kubernetes 1.31 and later only keep it in maintenance, and kind's \
             nodes may fail on it"
                .to_owned(),
            "boot with cgroup v2 (the kernel option systemd.unified_cgroup_hierarchy=1; the \
             default on current distributions)"
                .to_owned(),
        );
    }
    Check::warn(
        ID,
        TITLE,
        format!("{} does not exist", cgroup.display()),
        "mount the cgroup file system (a container without it cannot run kind)".to_owned(),
    )
}

// --- desktop services -------------------------------------------------------------------------

fn check_keyring(secrets: &SecretStore) -> Check {
    const ID: &str = "keyring";
    const TITLE: &str = "OS keyring";
    match secrets.probe() {
        Ok(()) => Check::pass(ID, TITLE, "stores, reads back and deletes an entry".to_owned()),
        Err(secrets::Error::Unavailable { detail }) => Check::fail(
            ID,
            TITLE,
            format!("not available: {detail}"),
            "start a Secret Service (gnome-keyring, KWallet or KeePassXC) and unlock it; `deskrun \
             add` keeps tokens only there"
                .to_owned(),
        ),
        Err(error) => {
            let chain =
                std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(": ");
            Check::fail(
                ID,
                TITLE,
                chain,
                "unlock the keyring (your desktop's password dialog, or `secret-tool`)".to_owned(),
            )
        }
    }
}

/// The notification service and the tray host, both on the session bus.
/// The notification service and tray host checks alone, `[notifications, tray]`: the app
/// runs them at start to say once, in its log, what will not show. Blocks for up to a few
/// seconds on a slow session bus.
pub fn desktop_services() -> [Check; 2] {
    check_desktop_services()
}

fn check_desktop_services() -> [Check; 2] {
    const NOTIFY: (&str, &str) = ("notifications", "Notification service");
    const TRAY: (&str, &str) = ("tray", "Tray host");
    if !cfg!(target_os = "linux") {
        return [Check::not_applicable(NOTIFY.0, NOTIFY.1), Check::not_applicable(TRAY.0, TRAY.1)];
    }
    let names = match session_bus_names(&[NOTIFICATIONS_NAME, TRAY_WATCHER_NAME]) {
        Ok(names) => names,
        Err(reason) => {
            let fix = "run deskrun in a desktop session; only the app needs these, so a \
                       headless host can ignore this";
            let message = format!("no session bus: {reason}");
            return [
                Check::warn(NOTIFY.0, NOTIFY.1, message.clone(), fix.to_owned()),
                Check::warn(TRAY.0, TRAY.1, message, fix.to_owned()),
            ];
        }
    };
    let notify = match names[0] {
        Presence::Running => {
            Check::pass(NOTIFY.0, NOTIFY.1, format!("{NOTIFICATIONS_NAME} is running"))
        }
        Presence::Activatable => {
            Check::pass(NOTIFY.0, NOTIFY.1, format!("{NOTIFICATIONS_NAME} starts on first use"))
        }
        Presence::Absent => Check::warn(
            NOTIFY.0,
            NOTIFY.1,
            format!(
                "nothing provides {NOTIFICATIONS_NAME} on the session bus: the app's job \
                 notifications will not show"
            ),
            "start a notification daemon (your desktop's own, or dunst or mako)".to_owned(),
        ),
    };
    let tray = match names[1] {
        Presence::Running => Check::pass(TRAY.0, TRAY.1, format!("{TRAY_WATCHER_NAME} is running")),
        Presence::Activatable => {
            Check::pass(TRAY.0, TRAY.1, format!("{TRAY_WATCHER_NAME} starts on first use"))
        }
        Presence::Absent => Check::warn(
            TRAY.0,
            TRAY.1,
            format!("no {TRAY_WATCHER_NAME} on the session bus: the app's tray icon will not show"),
            "on GNOME, install and enable the AppIndicator extension \
             (gnome-shell-extension-appindicator); KDE, Cinnamon, XFCE and waybar have one"
                .to_owned(),
        ),
    };
    [notify, tray]
}

/// Whether a bus name has an owner now or can be started on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Running,
    Activatable,
    Absent,
}

/// Asks the session bus about each name.
fn session_bus_names(names: &[&str]) -> Result<Vec<Presence>, String> {
    let connection = session_bus()?;
    let bus = connection.with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", TIMEOUT);
    let (activatable,): (Vec<String>,) = bus
        .method_call("org.freedesktop.DBus", "ListActivatableNames", ())
        .map_err(|e| e.to_string())?;
    names
        .iter()
        .map(|name| {
            let (owned,): (bool,) = bus
                .method_call("org.freedesktop.DBus", "NameHasOwner", (*name,))
                .map_err(|e| e.to_string())?;
            Ok(if owned {
                Presence::Running
            } else if activatable.iter().any(|a| a == name) {
                Presence::Activatable
            } else {
                Presence::Absent
            })
        })
        .collect()
}

/// Connects to the session bus named by `DBUS_SESSION_BUS_ADDRESS`, or systemd's per-user
/// bus. Never libdbus's autolaunch: a check must not start a bus daemon.
fn session_bus() -> Result<dbus::blocking::Connection, String> {
    let address = match std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().filter(|a| !a.is_empty()) {
        Some(address) => address,
        None => {
            let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
            let bus = runtime.map(|dir| dir.join("bus")).filter(|bus| bus.exists());
            match bus {
                Some(bus) => format!("unix:path={}", bus.display()),
                None => {
                    return Err("DBUS_SESSION_BUS_ADDRESS is not set and there is no \
                                $XDG_RUNTIME_DIR/bus"
                        .to_owned());
                }
            }
        }
    };
    let mut channel = dbus::channel::Channel::open_private(&address)
        .map_err(|e| format!("cannot connect to {address}: {}", e.message().unwrap_or("")))?;
    channel.register().map_err(|e| e.message().unwrap_or("cannot register").to_owned())?;
    Ok(dbus::blocking::Connection::from(channel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_kind_and_helm_output() {
        let kind = parse_version("kind v0.30.0 go1.24.6 linux/amd64").unwrap();
        assert_eq!(kind, ("v0.30.0".to_owned(), (0, 30)));
        assert_eq!(parse_version("v3.21.4+g1d2a3b4").unwrap().1, (3, 21));
        assert_eq!(parse_version("v4.0.0").unwrap().1, (4, 0));
        assert_eq!(parse_version("kind version unknown"), None);
        assert!((0, 19) < MIN_KIND && (3, 11) < MIN_HELM && (4, 0) > MIN_HELM);
    }

    #[test]
    fn a_ping_answer_gives_the_api_version() {
        let answer = "HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Length: 2\r\n\r\nOK";
        let stream = FakeStream(std::io::Cursor::new(answer.as_bytes().to_vec()));
        assert_eq!(ping(stream, "docker"), Ok(Some("1.47".to_owned())));
        let refused = FakeStream(std::io::Cursor::new(b"HTTP/1.1 500 Oops\r\n\r\n".to_vec()));
        assert!(ping(refused, "docker").unwrap_err().contains("500"));
    }

    /// Answers reads from a buffer and swallows writes.
    struct FakeStream(std::io::Cursor<Vec<u8>>);

    impl std::io::Read for FakeStream {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl std::io::Write for FakeStream {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl SetTimeouts for FakeStream {
        fn set_timeouts(&self, _: Duration) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn low_inotify_limits_fail_with_the_sysctl_fix() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("proc/sys/fs/inotify");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("max_user_watches"), "8192\n").unwrap();
        let check = check_inotify(root.path(), INOTIFY_WATCHES);
        assert_eq!(check.status, Status::Fail, "{check:?}");
        let fix = check.fix.unwrap();
        assert!(fix.contains("sysctl -w fs.inotify.max_user_watches=524288"), "{fix}");
        let missing = check_inotify(root.path(), INOTIFY_INSTANCES);
        assert_eq!(missing.status, Status::Warn, "an unreadable limit is not a failure");
    }
}
