//! The window's commands: each parses its input, calls one engine function, and maps the
//! error to [`IpcError`]. Long operations stream [`ProgressView`]s through a channel and never
//! block the window.

use std::path::Path;

use deskrun::cluster::KindCluster;
use deskrun::operations::{self, AddRequest, UpOptions};
use deskrun::secrets::Secret;
use deskrun::spec::{self, Auth, ContainerMode, GitHubUrl, Installation, Mount};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::error::IpcError;
use crate::state::AppState;
use crate::views::{
    ActivityItem, CountsCheck, DoctorView, FormField, Overview, ProgressView, RunnerForm,
    RunnerView, Settings,
};
use crate::{activity, tray};

/// The cluster and every runner, for the main view.
#[tauri::command]
#[specta::specta]
pub async fn overview(state: State<'_, AppState>) -> Result<Overview, IpcError> {
    let config = state.store.load()?;
    let running = KindCluster::new(&config.cluster.name).exists().await.unwrap_or(false);
    let summary = state.summary();
    let data_dir = deskrun::paths::data_dir();
    let runners = config
        .installations
        .values()
        .map(|inst| RunnerView::of(inst, &summary, data_dir.as_deref()))
        .collect();
    let operation = state.busy_operation.lock().ok().and_then(|op| op.clone());
    Ok(Overview {
        cluster: config.cluster.name.clone(),
        cluster_running: running,
        tray: tray::view(&summary, running, operation.as_deref()),
        runners,
        operation,
    })
}

/// `deskrun doctor`'s environment checks (Docker, kind, helm, kernel limits, disk, keyring,
/// desktop services). Never fails: each problem is a check with its fix.
#[tauri::command]
#[specta::specta]
pub async fn doctor() -> DoctorView {
    deskrun::doctor::run(&deskrun::doctor::DoctorEnv::from_env()).await.into()
}

/// Checks one form field with the engine's own rules; `None` when it is fine.
#[tauri::command]
#[specta::specta]
pub fn validate_field(
    state: State<'_, AppState>,
    field: FormField,
    value: String,
) -> Option<String> {
    let result = match field {
        FormField::Name => match spec::validate_installation_name(&value, 1) {
            // NB: the form checks names only when adding (an edited name is read-only).
            Ok(()) => return taken_name(&state, value.trim()),
            Err(error) => Err(error),
        },
        FormField::Repository => GitHubUrl::parse(&value).map(|_| ()),
        FormField::Mount => Mount::parse_absolute(&value).map(|_| ()),
        FormField::AppId => spec::parse_app_id(Some(&value)).map(|_| ()),
        FormField::InstallationId if value.trim().is_empty() => Ok(()),
        FormField::InstallationId => spec::parse_installation_id(&value).map(|_| ()),
        FormField::Cluster => spec::validate_cluster_name(value.trim()),
    };
    result.err().map(|e| in_form_words(&e.to_string()))
}

/// The engine's message in the form's words: its fields' labels where the CLI's flags are.
fn in_form_words(message: &str) -> String {
    const LABELS: [(&str, &str); 9] = [
        ("--repository", "the URL"),
        ("--min-runners", "Idle runners"),
        ("--max-runners", "Most runners"),
        ("--instances", "Instances"),
        ("--mount", "the mount"),
        ("--app-id", "the App ID"),
        ("--installation-id", "the installation ID"),
        ("--auth-type github-app", "a GitHub App"),
        ("--token-stdin or DESKRUN_TOKEN", "the Token field"),
    ];
    let mut text = message.to_owned();
    for (flag, label) in LABELS {
        text = text.replace(flag, label);
    }
    let mut chars = text.chars();
    chars.next().map_or(text.clone(), |first| first.to_uppercase().chain(chars).collect())
}

/// Says so when `name` is a configured runner's or one of their scale sets' (`web-2`).
fn taken_name(state: &AppState, name: &str) -> Option<String> {
    let config = state.store.load().ok()?;
    let owner = config.owner_of(name)?;
    Some(if owner.name == name {
        format!(
            "a runner named {name:?} exists already; edit it from the Runners list, or pick another name"
        )
    } else {
        format!("{name:?} is the name of an instance of runner {:?}; pick another name", owner.name)
    })
}

/// Checks the form's runner counts with the engine's rules (the same as `deskrun add`'s
/// flags), and `name` with the suffix the instances add. `None` is a count left empty or
/// not a whole number.
#[tauri::command]
#[specta::specta]
pub fn validate_counts(
    name: String,
    min_runners: Option<u32>,
    max_runners: Option<u32>,
    instances: Option<u32>,
) -> CountsCheck {
    let whole = |least: u32| Some(format!("Enter a whole number of at least {least}."));
    let mut check = CountsCheck {
        instances: instances.is_none().then(|| whole(1)).flatten(),
        ..CountsCheck::default()
    };
    let Some(instances) = instances else { return check };
    // NB: only what the suffix adds: a name that is wrong alone is validate_field's to say.
    let name = name.trim();
    if instances > 1 && spec::validate_installation_name(name, 1).is_ok() {
        check.name = spec::validate_installation_name(name, instances)
            .err()
            .map(|e| in_form_words(&e.to_string()));
    }
    if instances <= 1 {
        check.min_runners = min_runners.is_none().then(|| whole(0)).flatten();
        check.max_runners = max_runners.is_none().then(|| whole(1)).flatten();
    }
    let (min, max) = (min_runners.unwrap_or(0), max_runners.unwrap_or(spec::MAX_RUNNERS));
    if let Err(error @ spec::Error::InvalidCount { field, .. }) =
        spec::check_counts(min, max, instances)
    {
        let slot = match field {
            "--instances" => &mut check.instances,
            "--max-runners" => &mut check.max_runners,
            _ => &mut check.min_runners,
        };
        slot.get_or_insert(in_form_words(&error.to_string()));
    }
    check
}

/// Adds (or, with `replace`, changes) a runner: token to the keyring, settings to the config,
/// then deploys it if the cluster runs. Returns the `runs-on:` line.
#[tauri::command]
#[specta::specta]
pub async fn save_runner(
    app: AppHandle,
    state: State<'_, AppState>,
    form: RunnerForm,
    on_progress: Channel<ProgressView>,
) -> Result<String, IpcError> {
    let request = request_from(form)?;
    let _busy = tray::Operation::start(&app, &format!("Saving {}…", request.installation.name));
    let progress = forward(&on_progress);
    let added = operations::add(&state.store, &state.secrets, request, &progress).await?;
    activity::refresh(&app).await;
    Ok(format!("runs-on: {}", added.installation.runs_on()))
}

/// Sends an operation's progress to the window; a closed window just stops listening.
fn forward(channel: &Channel<ProgressView>) -> impl Fn(operations::Progress) + Sync + '_ {
    move |progress| {
        let _ = channel.send(progress.into());
    }
}

fn request_from(form: RunnerForm) -> Result<AddRequest, IpcError> {
    let mounts = form
        .mounts
        .iter()
        .filter(|m| !m.trim().is_empty())
        .map(|m| Mount::parse_absolute(m.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let app = match form.auth.as_str() {
        "pat" => None,
        "github-app" => {
            let app_id = spec::parse_app_id(form.app_id.as_deref())?;
            let id = form.installation_id.as_deref().filter(|s| !s.trim().is_empty());
            Some((app_id, id.map(spec::parse_installation_id).transpose()?))
        }
        other => return Err(IpcError::invalid(format!("unknown credential type {other:?}"))),
    };
    let installation = Installation {
        name: form.name.trim().to_owned(),
        repository: GitHubUrl::parse(&form.repository)?,
        mode: form.mode.parse::<ContainerMode>()?,
        min_runners: form.min_runners,
        max_runners: form.max_runners,
        instances: form.instances,
        mounts,
        auth: Auth::Pat,
    };
    let secret = (!form.secret.trim().is_empty()).then(|| Secret::from(form.secret));
    Ok(AddRequest {
        installation,
        app,
        secret,
        verify: form.verify,
        replace: form.replace,
        deploy: true,
    })
}

/// Removes a runner from the cluster, the config and the keyring.
#[tauri::command]
#[specta::specta]
pub async fn remove_runner(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
    on_progress: Channel<ProgressView>,
) -> Result<(), IpcError> {
    let _busy = tray::Operation::start(&app, &format!("Removing {name}…"));
    let progress = forward(&on_progress);
    operations::remove(&state.store, &state.secrets, &name, &progress).await?;
    Ok(())
}

/// `deskrun up`: creates the cluster if needed and deploys every runner.
#[tauri::command]
#[specta::specta]
pub async fn start_runners(
    app: AppHandle,
    state: State<'_, AppState>,
    recreate_cluster: bool,
    on_progress: Channel<ProgressView>,
) -> Result<(), IpcError> {
    let _busy = tray::Operation::start(&app, "Starting runners…");
    let progress = forward(&on_progress);
    let options = UpOptions { recreate_cluster };
    let result = operations::up(&state.store, &state.secrets, options, &progress).await;
    activity::refresh(&app).await;
    result.map(|_| ()).map_err(Into::into)
}

/// `deskrun down`: removes every scale set, keeps the config.
#[tauri::command]
#[specta::specta]
pub async fn pause_runners(
    app: AppHandle,
    state: State<'_, AppState>,
    on_progress: Channel<ProgressView>,
) -> Result<(), IpcError> {
    let _busy = tray::Operation::start(&app, "Pausing runners…");
    let progress = forward(&on_progress);
    operations::down(&state.store, &state.secrets, &progress).await?;
    Ok(())
}

/// The recent jobs, newest first.
#[tauri::command]
#[specta::specta]
pub fn recent_activity(state: State<'_, AppState>) -> Vec<ActivityItem> {
    state.feed.lock().map(|feed| feed.iter().cloned().collect()).unwrap_or_default()
}

/// The settings.
#[tauri::command]
#[specta::specta]
pub fn get_settings(app: AppHandle, state: State<'_, AppState>) -> Result<Settings, IpcError> {
    use tauri_plugin_autostart::ManagerExt;
    let config = state.store.load()?;
    Ok(Settings {
        notify_job_started: config.desktop.notify_job_started,
        notify_job_finished: config.desktop.notify_job_finished,
        notify_attention: config.desktop.notify_attention,
        cluster: config.cluster.name,
        // NB: the login item itself is the truth, not a copy in the config.
        start_at_login: app.autolaunch().is_enabled().unwrap_or(false),
    })
}

/// Saves the settings.
#[tauri::command]
#[specta::specta]
pub fn set_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<(), IpcError> {
    use tauri_plugin_autostart::ManagerExt;
    spec::validate_cluster_name(&settings.cluster).map_err(|e| IpcError::invalid(e.to_string()))?;
    // NB: the login-item library creates ~/.config/autostart but not ~/.config itself,
    // which a fresh account may lack.
    #[cfg(target_os = "linux")]
    if settings.start_at_login
        && let Some(home) = std::env::var_os("HOME")
    {
        let _ = std::fs::create_dir_all(std::path::Path::new(&home).join(".config/autostart"));
    }
    let autostart = app.autolaunch();
    let login = if settings.start_at_login { autostart.enable() } else { autostart.disable() };
    // Disabling what was never enabled is fine; anything else is worth saying.
    if let Err(error) = login
        && settings.start_at_login
    {
        return Err(IpcError::new(crate::error::ErrorCode::Internal, &error));
    }
    state.store.update(|config| {
        config.desktop.notify_job_started = settings.notify_job_started;
        config.desktop.notify_job_finished = settings.notify_job_finished;
        config.desktop.notify_attention = settings.notify_attention;
        config.cluster.name = settings.cluster;
        Ok::<_, IpcError>(())
    })
}

impl RunnerView {
    fn of(
        inst: &Installation,
        summary: &deskrun::activity::BoardSummary,
        data_dir: Option<&Path>,
    ) -> Self {
        let sets: Vec<_> = inst
            .scale_sets()
            .into_iter()
            .filter_map(|set| summary.per_scale_set.iter().find(|s| s.name == set.name))
            .collect();
        let jobs: Vec<_> = sets.iter().flat_map(|s| s.jobs.iter().map(Into::into)).collect();
        let attention = sets.iter().find_map(|s| s.attention.as_ref()).map(|a| a.message.clone());
        let state = if attention.is_some() {
            "attention"
        } else if !jobs.is_empty() {
            "busy"
        } else if sets.iter().any(|s| s.deployed) {
            "idle"
        } else {
            "not-deployed"
        };
        let (auth, app_id) = match &inst.auth {
            Auth::Pat => ("pat", None),
            Auth::GithubApp { app_id, .. } => ("github-app", Some(app_id.clone())),
        };
        Self {
            name: inst.name.clone(),
            repository: inst.repository.to_string(),
            mode: inst.mode.to_string(),
            min_runners: inst.min_runners,
            max_runners: inst.max_runners,
            instances: inst.instances,
            mounts: inst.mounts.iter().map(Mount::to_spec).collect(),
            auth: auth.to_owned(),
            app_id,
            runs_on: format!("runs-on: {}", inst.runs_on()),
            state: state.to_owned(),
            runners_online: sets.iter().map(|s| s.runners_online as u32).sum(),
            jobs,
            attention,
            cache_bytes: data_dir.map(|dir| cache_bytes(&dir.join("cache").join(&inst.name))),
        }
    }
}

/// Bytes under `dir`, without following links; a missing directory is 0.
fn cache_bytes(dir: &Path) -> f64 {
    let mut total = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total as f64
}

/// Opens a web page (a workflow run, a repository) in the user's browser. Only `https` links
/// are opened: the window never gets to start other programs.
#[tauri::command]
#[specta::specta]
pub fn open_link(app: AppHandle, url: String) -> Result<(), IpcError> {
    use tauri_plugin_opener::OpenerExt;
    if !url.starts_with("https://") {
        return Err(IpcError::invalid(format!("only https links open in the browser: {url:?}")));
    }
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| IpcError::new(crate::error::ErrorCode::Internal, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The form's messages spoke the CLI's flags ("raise --max-runners") under fields
    /// labelled otherwise.
    #[test]
    fn form_messages_use_the_forms_labels() {
        let check = validate_counts(String::new(), Some(4), Some(2), Some(1));
        let min = check.min_runners.unwrap();
        assert!(min.starts_with("Idle runners 4") && min.contains("raise Most runners"), "{min}");
        let url =
            in_form_words("--repository \"x\" is not valid: use --token-stdin or DESKRUN_TOKEN");
        assert_eq!(url, "The URL \"x\" is not valid: use the Token field");
    }

    /// What a user saw: a name already taken passed the form and was refused only on Save,
    /// in the CLI's words.
    #[test]
    fn a_taken_name_is_said_as_typed() {
        let dir = tempfile::tempdir().unwrap();
        let store = deskrun::config::ConfigStore::in_dir(dir.path());
        let ci = Installation {
            name: "ci".into(),
            repository: GitHubUrl::parse("https://github.com/o/r").unwrap(),
            mode: ContainerMode::Kubernetes,
            min_runners: 1,
            max_runners: 1,
            instances: 2,
            mounts: vec![],
            auth: Auth::Pat,
        };
        store
            .update(|config| {
                config.installations.insert("ci".into(), ci);
                Ok::<_, deskrun::config::Error>(())
            })
            .unwrap();
        let state = AppState::new(store);
        assert!(taken_name(&state, "ci").is_some_and(|m| m.contains("exists already")));
        assert!(taken_name(&state, "ci-2").is_some_and(|m| m.contains("instance of runner")));
        assert_eq!(taken_name(&state, "web"), None);
    }

    /// The form once checked counts in TypeScript, and only "a whole number": min above max
    /// or 300 runners passed the form and were refused only on Save.
    #[test]
    fn counts_are_checked_by_the_engine_rules_per_field() {
        let check = validate_counts(String::new(), Some(4), Some(2), Some(1));
        assert!(check.min_runners.as_deref().is_some_and(|m| m.contains("above Most runners 2")));
        assert_eq!((check.max_runners, check.instances), (None, None));
        let check = validate_counts(String::new(), Some(0), Some(300), Some(1));
        assert!(check.max_runners.is_some_and(|m| m.contains("from 1 to 256")));
        let check = validate_counts(String::new(), None, None, Some(0));
        assert!(check.instances.is_some_and(|m| m.contains("Instances 0")));
        assert_eq!(
            validate_counts(String::new(), Some(9), None, Some(3)),
            CountsCheck::default(),
            "ignored"
        );
        let check = validate_counts(String::new(), None, Some(2), Some(1));
        assert!(check.min_runners.is_some_and(|m| m.contains("whole number")));
        assert_eq!(
            validate_counts(String::new(), Some(1), Some(5), Some(1)),
            CountsCheck::default()
        );
        let long = "a".repeat(spec::MAX_SCALE_SET_NAME_LEN);
        let check = validate_counts(long.clone(), None, None, Some(2));
        assert!(
            check.name.is_some_and(|m| m.contains("instance suffix \"-2\"")),
            "too long with -2"
        );
        assert_eq!(validate_counts(long, Some(1), Some(5), Some(1)).name, None, "fits alone");
        assert_eq!(validate_counts("Bad_Name".into(), None, None, Some(2)).name, None, "not twice");
    }
}
