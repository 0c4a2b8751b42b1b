//! `deskrun add`: validate everything first, then store the secret in the keyring, then save
//! the config, then deploy. A failure before the save leaves what was saved before unchanged.

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};
use deskrun::config::{Config, ConfigStore};
use deskrun::github::GitHubApi;
use deskrun::secrets::{Secret, SecretStore};
use deskrun::spec::{self, Auth, AuthType, ContainerMode, GitHubUrl, Installation, Mount};
use deskrun::{app_key, github};
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

/// Environment variable holding the token for `add`.
const TOKEN_ENV: &str = "DESKRUN_TOKEN";

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    let (mut installation, app) = installation_from(&args)?;
    let store = ConfigStore::from_env()?;
    check_new(&installation, &store.load()?, args.replace)?;
    let secret = read_secret(&args, app.is_some())?;
    let secret = match &app {
        Some(_) => app_key::normalize_private_key(secret.expose_secret())
            .context("--private-key-file (or the key given) cannot be used")?,
        None => secret,
    };
    installation.auth = match app {
        None => {
            if !args.no_verify {
                verify(&installation, || async {
                    let api = GitHubApi::for_url(&installation.repository);
                    api.verify_pat(&installation.repository, &secret).await
                })
                .await?;
            }
            Auth::Pat
        }
        Some((app_id, installation_id)) => {
            let url = &installation.repository;
            let api = GitHubApi::for_url(url);
            let installation_id = match (installation_id, args.no_verify) {
                (Some(id), _) => id,
                (None, true) => return Err(spec::Error::MissingInstallationId.into()),
                (None, false) => {
                    let id = api.find_installation(url, &app_id, &secret).await?;
                    progress(&format!("Found the App's installation on {url}: {id}"));
                    id
                }
            };
            if !args.no_verify {
                verify(&installation, || api.verify_app(url, &app_id, installation_id, &secret))
                    .await?;
            }
            Auth::GithubApp { app_id, installation_id }
        }
    };
    let secrets = SecretStore::default();
    let previous = if args.replace { secrets.load(&installation.name).ok() } else { None };
    secrets.store(&installation.name, &secret).context("cannot store the token")?;
    let saved = store.update(|config| {
        // NB: checked again under the lock: another process may have added it meanwhile.
        check_new(&installation, config, args.replace)?;
        config.installations.insert(installation.name.clone(), installation.clone());
        Ok::<_, anyhow::Error>(())
    });
    if let Err(error) = saved {
        // Nothing was saved, so the keyring goes back to what it held before.
        let _ = match &previous {
            Some(old) => secrets.store(&installation.name, old),
            None => secrets.delete(&installation.name),
        };
        return Err(error);
    }
    let verb = if args.replace { "Updated" } else { "Saved" };
    progress(&format!("{verb} installation {} in {}", installation.name, store.path().display()));
    if !args.no_deploy {
        super::reconcile::deploy_one(&installation.name).await.with_context(|| {
            format!(
                "installation {} is saved, but deploying it failed; fix the cause and run \
                 `deskrun up`",
                installation.name
            )
        })?;
    }
    print(&format!("runs-on: {}\n", installation.runs_on()))
}

/// Checks with GitHub that the credentials can register runners for the URL.
async fn verify<F, Fut>(installation: &Installation, check: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), github::Error>>,
{
    progress(&format!(
        "Checking the credentials with GitHub ({})…",
        installation.repository.api_base()
    ));
    check().await.context(
        "the credentials cannot register runners (use --no-verify to skip this check offline)",
    )
}

/// The GitHub App flags: the App ID and, when given, the installation ID.
type AppFlags = Option<(String, Option<u64>)>;

/// The installation the flags describe (its `auth` is settled once the secret is read) and
/// the GitHub App flags, all checked before anything is read or saved.
fn installation_from(args: &AddArgs) -> anyhow::Result<(Installation, AppFlags)> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let mut mounts =
        args.mounts.iter().map(|spec| Mount::parse(spec, &cwd)).collect::<Result<Vec<_>, _>>()?;
    for spec in &args.caches {
        mounts.extend(Mount::parse_cache(spec, &cwd)?);
    }
    let app = match args.auth_type.parse::<AuthType>()? {
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
            let app_id = spec::parse_app_id(args.app_id.as_deref())?;
            let id =
                args.installation_id.as_deref().map(spec::parse_installation_id).transpose()?;
            Some((app_id, id))
        }
    };
    if args.instances > 1
        && (args.min_runners, args.max_runners)
            != (spec::DEFAULT_MIN_RUNNERS, spec::DEFAULT_MAX_RUNNERS)
    {
        progress(
            "note: --min-runners and --max-runners are ignored with --instances > 1: each \
             instance runs exactly one runner",
        );
    }
    let installation = Installation {
        name: args.name.clone(),
        repository: GitHubUrl::parse(&args.repository)?,
        mode: args.mode.parse::<ContainerMode>()?,
        min_runners: args.min_runners,
        max_runners: args.max_runners,
        instances: args.instances,
        mounts,
        auth: Auth::Pat,
    };
    installation.validate()?;
    if installation.mode == ContainerMode::Kubernetes
        && installation.scale_sets().iter().any(|s| s.name.len() > spec::JOB_POD_NAME_WARN_LEN)
    {
        progress(&format!(
            "warning: in kubernetes mode ARC shortens job pod names, so scale set names over \
             {} characters can make parallel jobs collide; a shorter name is safer",
            spec::JOB_POD_NAME_WARN_LEN
        ));
    }
    Ok((installation, app))
}

fn check_new(installation: &Installation, config: &Config, replace: bool) -> anyhow::Result<()> {
    let exists = config.installations.contains_key(&installation.name);
    if exists && !replace {
        bail!(
            "installation {:?} already exists; change it with `deskrun add {} --replace …`, \
             remove it with `deskrun remove {}`, or choose another name",
            installation.name,
            installation.name,
            installation.name
        );
    }
    if replace && !exists {
        bail!(
            "--replace: there is no installation {:?} to replace; drop --replace to add it",
            installation.name
        );
    }
    spec::check_collisions(installation, config.installations.values()).map_err(anyhow::Error::msg)
}

/// Reads the token or key from the one source given: --token-stdin, --private-key-file,
/// --auth-value, DESKRUN_TOKEN, or a prompt on a terminal.
fn read_secret(args: &AddArgs, is_app: bool) -> anyhow::Result<Secret> {
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
    let raw = if args.token_stdin {
        if std::io::stdin().is_terminal() {
            progress(&format!("Reading the {what} from standard input (end with Ctrl-D)…"));
        }
        let mut value = String::new();
        std::io::stdin().read_to_string(&mut value).context("cannot read standard input")?;
        value
    } else if let Some(path) = &args.private_key_file {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --private-key-file {}", path.display()))?
    } else if let Some(value) = &args.auth_value {
        progress(
            "warning: --auth-value is visible to other processes and kept in shell history; \
             prefer --token-stdin or DESKRUN_TOKEN",
        );
        value.clone()
    } else if let Some(value) = std::env::var(TOKEN_ENV).ok().filter(|v| !v.trim().is_empty()) {
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
    Ok(Secret::from(value))
}
