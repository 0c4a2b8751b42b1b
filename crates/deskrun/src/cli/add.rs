//! `deskrun add`: validate everything first, then store the secret in the keyring, then save
//! the config, then deploy. A failure before the save leaves what was saved before unchanged.

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};
use deskrun::config::ConfigStore;
use deskrun::operations;
use deskrun::secrets::{Secret, SecretStore, TOKEN_ENV};
use deskrun::spec::{self, Auth, AuthType, ContainerMode, GitHubUrl, Installation, Mount};
use secrecy::ExposeSecret;

use super::AddArgs;
use super::output::{print, progress};

pub const AFTER_HELP: &str = "\
Examples:
  printf %s \"$TOKEN\" | deskrun add my-runner -r https://github.com/owner/repo --token-stdin
  deskrun add docker-runner -r https://github.com/owner/repo \\
      --mode cached-privileged-kubernetes --mount /var/lib/docker --instances 3
  deskrun add app-runner -r https://github.com/acme --auth-type github-app \\
      --app-id 123456 --installation-id 7890123 --private-key-file app.pem
  deskrun add my-runner -r https://github.com/owner/repo --replace --token-stdin

The token (or private key) is stored in the OS keyring, never in the config file. It is
read from the first of: --token-stdin, --private-key-file, --auth-value, DESKRUN_TOKEN,
or a prompt when standard input is a terminal.";

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let secrets = SecretStore::from_env();
    let existing = store.load()?.installations.get(&args.name).cloned();
    let (installation, app) = installation_from(&args, existing.as_ref().filter(|_| args.replace))?;
    // NB: refused before the token is read, so nobody types a token for nothing.
    operations::check_new(&installation, &store.load()?, args.replace)?;
    let keeps_auth = existing.as_ref().is_some_and(|e| {
        args.replace
            && matches!((&e.auth, &app), (Auth::Pat, None) | (Auth::GithubApp { .. }, Some(_)))
    });
    let secret = read_secret(&args, app.is_some(), keeps_auth)?;
    let request = operations::AddRequest {
        installation,
        app,
        secret,
        verify: !args.no_verify,
        replace: args.replace,
        deploy: !args.no_deploy,
    };
    let name = request.installation.name.clone();
    let added = operations::add(&store, &secrets, request, &super::output::show).await.map_err(
        |error| match error {
            operations::Error::Reconcile(_) | operations::Error::Cluster(_) => {
                anyhow::Error::new(error).context(format!(
                    "installation {name} is saved, but deploying it failed; fix the cause and \
                     run `deskrun up`"
                ))
            }
            other => other.into(),
        },
    )?;
    print(&format!("runs-on: {}\n", added.installation.runs_on()))
}

/// The GitHub App flags: the App ID and, when given, the installation ID.
type AppFlags = Option<(String, Option<u64>)>;

/// The installation the flags describe (its `auth` is settled once the secret is read) and
/// the GitHub App flags, all checked before anything is read or saved.
fn installation_from(
    args: &AddArgs,
    existing: Option<&Installation>,
) -> anyhow::Result<(Installation, AppFlags)> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let mut mounts =
        args.mounts.iter().map(|spec| Mount::parse(spec, &cwd)).collect::<Result<Vec<_>, _>>()?;
    // NB: a relative host path is taken from here, which the user may not expect: say where.
    for (spec, mount) in args.mounts.iter().zip(&mounts) {
        if let (true, Some(source)) = (Mount::has_relative_source(spec), &mount.source) {
            progress(&format!("note: --mount {spec}: the host path is {}", source.display()));
        }
    }
    for spec in &args.caches {
        mounts.extend(Mount::parse_cache(spec, &cwd)?);
    }
    if mounts.is_empty() {
        mounts = existing.map(|e| e.mounts.clone()).unwrap_or_default();
    }
    let saved_type = existing.map(|e| match e.auth {
        Auth::Pat => "pat",
        Auth::GithubApp { .. } => "github-app",
    });
    let auth_type = args.auth_type.as_deref().or(saved_type).unwrap_or("pat");
    let app = match auth_type.parse::<AuthType>()? {
        AuthType::Pat => {
            for (given, flag) in [
                (args.app_id.is_some(), "--app-id"),
                (args.installation_id.is_some(), "--installation-id"),
                (args.private_key_file.is_some(), "--private-key-file"),
            ] {
                if given {
                    bail!("{flag} goes with --auth-type github-app; add that flag, or drop {flag}");
                }
            }
            None
        }
        AuthType::GithubApp => {
            let (saved_app, saved_id) = match existing.map(|e| &e.auth) {
                Some(Auth::GithubApp { app_id, installation_id }) => {
                    (Some(app_id.clone()), Some(*installation_id))
                }
                _ => (None, None),
            };
            let app_id = spec::parse_app_id(args.app_id.as_deref().or(saved_app.as_deref()))?;
            let id =
                args.installation_id.as_deref().map(spec::parse_installation_id).transpose()?;
            Some((app_id, id.or(saved_id)))
        }
    };
    let repository = match (&args.repository, existing) {
        (Some(url), _) => GitHubUrl::parse(url)?,
        (None, Some(existing)) => existing.repository.clone(),
        (None, None) => bail!(
            "--repository is required: the GitHub URL the runners register with, e.g. \
             https://github.com/OWNER/REPO"
        ),
    };
    let mode = match (&args.mode, existing) {
        (Some(mode), _) => mode.parse::<ContainerMode>()?,
        (None, Some(existing)) => existing.mode,
        (None, None) => ContainerMode::default(),
    };
    let pick =
        |given: Option<u32>, saved: Option<u32>, default: u32| given.or(saved).unwrap_or(default);
    let min_runners =
        pick(args.min_runners, existing.map(|e| e.min_runners), spec::DEFAULT_MIN_RUNNERS);
    let max_runners =
        pick(args.max_runners, existing.map(|e| e.max_runners), spec::DEFAULT_MAX_RUNNERS);
    let instances = pick(args.instances, existing.map(|e| e.instances), 1);
    let installation = Installation {
        name: args.name.clone(),
        repository,
        mode,
        min_runners,
        max_runners,
        instances,
        mounts,
        auth: Auth::Pat,
    };
    installation.validate()?;
    Ok((installation, app))
}

/// Reads the token or key from the one source given: --token-stdin, --private-key-file,
/// --auth-value, DESKRUN_TOKEN, or a prompt on a terminal.
fn read_secret(args: &AddArgs, is_app: bool, optional: bool) -> anyhow::Result<Option<Secret>> {
    let what = if is_app { "GitHub App private key" } else { "token" };
    let given: Vec<&str> = [
        (args.token_stdin, "--token-stdin"),
        (args.private_key_file.is_some(), "--private-key-file"),
        (args.auth_value.is_some(), "--auth-value"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect();
    if given.len() > 1 {
        bail!("the {what} is given twice ({}); give it once", given.join(" and "));
    }
    let from_env = std::env::var(TOKEN_ENV).ok().filter(|v| !v.trim().is_empty());
    if optional && given.is_empty() && from_env.is_none() {
        return Ok(None);
    }
    let raw = if args.token_stdin {
        if std::io::stdin().is_terminal() {
            progress(&format!("Reading the {what} from standard input (end with Ctrl-D)…"));
        }
        let mut value = String::new();
        std::io::stdin().read_to_string(&mut value).context("cannot read standard input")?;
        value
    } else if let Some(path) = &args.private_key_file {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read --private-key-file {}", path.display()))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!(
                "--private-key-file {} is not a text PEM file (a binary DER key?); convert it \
                 with `openssl pkey -inform DER -in KEY -out key.pem`",
                path.display()
            )
        })?;
        if text.trim().is_empty() {
            bail!(
                "--private-key-file {} is empty; give the .pem file downloaded from the \
                   App's settings page",
                path.display()
            );
        }
        text
    } else if let Some(value) = &args.auth_value {
        // NB: --auth-value takes values starting with '-' (a PEM does), so a forgotten value
        // would swallow the next flag as the secret; a flag's name is not secret to show.
        if let Some(flag) = add_flag_named(value) {
            bail!(
                "--auth-value got {flag:?}, one of add's flags, as the {what}: put the {what} \
                 right after --auth-value (better: pipe it with --token-stdin)"
            );
        }
        // NB: no token starts with '-', and a PEM key starts with "-----BEGIN"; anything
        // else is a flag taken for the value (not quoted: it might be a secret after all).
        if value.starts_with('-') && !value.starts_with("-----BEGIN") {
            bail!(
                "--auth-value got a value starting with '-', which no {what} does (a flag \
                 taken for the value?): put the {what} right after --auth-value (better: pipe \
                 it with --token-stdin)"
            );
        }
        progress(
            "warning: --auth-value is visible to other processes and kept in shell history; \
             prefer --token-stdin or DESKRUN_TOKEN",
        );
        value.clone()
    } else if let Some(value) = from_env {
        value
    } else if !is_app && std::io::stdin().is_terminal() {
        rpassword::prompt_password("GitHub token: ").context("cannot read the token")?
    } else if is_app {
        bail!(
            "the GitHub App private key is missing: pass --private-key-file PATH (or the PEM \
             through --token-stdin)"
        );
    } else {
        bail!(
            "the token is missing: pipe it with --token-stdin, set {TOKEN_ENV}, or run in a \
             terminal to be prompted"
        );
    };
    // NB: wrapped at once, so the untrimmed copy is zeroized too. Neither a token nor a PEM
    // key starts or ends with whitespace; a trailing newline from a file or echo does.
    let raw = Secret::from(raw);
    let value = raw.expose_secret().trim().to_owned();
    if value.is_empty() {
        bail!("the {what} is empty; pass the value itself (see `deskrun add --help`)");
    }
    Ok(Some(Secret::from(value)))
}

/// The flag of `deskrun add` that `value` spells (`-r`, `--no-deploy`, `--mode=dind`), if any.
fn add_flag_named(value: &str) -> Option<String> {
    use clap::CommandFactory;
    let command = super::Cli::command();
    let add = command.find_subcommand("add")?;
    let name = value.split_once('=').map_or(value, |(name, _)| name);
    // NB: clap's own flags are not in the argument list.
    if ["-h", "--help", "-V", "--version", "--"].contains(&name) {
        return Some(name.to_owned());
    }
    let known = add.get_arguments().chain(command.get_arguments()).any(|arg| {
        name.strip_prefix("--").is_some_and(|long| arg.get_long() == Some(long))
            || name.strip_prefix('-').is_some_and(|short| {
                let mut chars = short.chars();
                chars.next().is_some_and(|c| arg.get_short() == Some(c)) && chars.next().is_none()
            })
    });
    known.then(|| name.to_owned())
}
