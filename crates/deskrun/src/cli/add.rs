//! `deskrun add`: validate everything first, then store the secret in the keyring, then save
//! the config, then deploy. A failure at any step leaves what was saved before unchanged.

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};
use deskrun::config::ConfigStore;
use deskrun::secrets::{Secret, SecretStore};
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

The token (or private key) is stored in the OS keyring, never in the config file.
Without --token-stdin, DESKRUN_TOKEN or --auth-value, deskrun prompts for it.";

/// Environment variable holding the token for `add`.
const TOKEN_ENV: &str = "DESKRUN_TOKEN";

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    let installation = installation_from(&args)?;
    let store = ConfigStore::from_env()?;
    let existing = store.load()?;
    check_new(&installation, &existing)?;
    let secret = read_secret(&args, &installation.auth)?;
    if !args.no_verify {
        progress(
            "note: credentials are not checked against GitHub yet; runners will report \
                  rejected credentials in `deskrun status`",
        );
    }
    let secrets = SecretStore::default();
    secrets
        .store(&installation.name, &secret)
        .context("cannot store the token")?;
    let saved = store.update(|config| {
        // NB: checked again under the lock: another process may have added it meanwhile.
        check_new(&installation, config)?;
        config
            .installations
            .insert(installation.name.clone(), installation.clone());
        Ok::<_, anyhow::Error>(())
    });
    if let Err(error) = saved {
        // The config was not written, so the keyring entry would be an orphan.
        let _ = secrets.delete(&installation.name);
        return Err(error);
    }
    progress(&format!(
        "Saved installation {} ({})",
        installation.name,
        store.path().display()
    ));
    if !args.no_deploy {
        super::reconcile::deploy_one(&installation.name).await?;
    }
    print(&format!("{}\n", installation.runs_on()))
}

fn installation_from(args: &AddArgs) -> anyhow::Result<Installation> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let mounts = args
        .mounts
        .iter()
        .chain(&args.caches)
        .map(|spec| Mount::parse(spec, &cwd))
        .collect::<Result<Vec<_>, _>>()?;
    let auth = match args.auth_type.parse::<AuthType>()? {
        AuthType::Pat => Auth::Pat,
        AuthType::GithubApp => {
            Auth::github_app(args.app_id.as_deref(), args.installation_id.as_deref())?
        }
    };
    if args.instances > 1 && (args.min_runners, args.max_runners) != (1, 5) {
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
        auth,
    };
    installation.validate()?;
    Ok(installation)
}

fn check_new(installation: &Installation, config: &deskrun::config::Config) -> anyhow::Result<()> {
    if config.installations.contains_key(&installation.name) {
        bail!(
            "installation {:?} already exists; remove it first with `deskrun remove {}` or \
             choose another name",
            installation.name,
            installation.name
        );
    }
    spec::check_collisions(installation, config.installations.values()).map_err(anyhow::Error::msg)
}

/// Reads the token or key from the first source given: --auth-value, --token-stdin,
/// --private-key-file, DESKRUN_TOKEN, or a prompt on a terminal.
fn read_secret(args: &AddArgs, auth: &Auth) -> anyhow::Result<Secret> {
    let is_app = matches!(auth, Auth::GithubApp { .. });
    let what = if is_app { "private key" } else { "token" };
    let secret = if let Some(value) = &args.auth_value {
        progress(
            "warning: --auth-value is visible to other processes and kept in shell \
                  history; prefer --token-stdin or DESKRUN_TOKEN",
        );
        Secret::from(value.clone())
    } else if args.token_stdin {
        let mut value = String::new();
        std::io::stdin()
            .read_to_string(&mut value)
            .context("cannot read standard input")?;
        Secret::from(if is_app {
            value
        } else {
            value.trim().to_owned()
        })
    } else if let Some(path) = &args.private_key_file {
        if !is_app {
            bail!(
                "--private-key-file goes with --auth-type github-app; for a PAT use --token-stdin"
            );
        }
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --private-key-file {}", path.display()))?;
        Secret::from(pem)
    } else if let Some(value) = std::env::var(TOKEN_ENV).ok().filter(|v| !v.is_empty()) {
        Secret::from(value)
    } else if !is_app && std::io::stdin().is_terminal() {
        Secret::from(rpassword::prompt_password("GitHub token: ").context("cannot read the token")?)
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
    if secret.expose_secret().trim().is_empty() {
        bail!("the {what} is empty");
    }
    if is_app && !secret.expose_secret().contains("-----BEGIN") {
        bail!(
            "the GitHub App private key is not a PEM file (it must start with -----BEGIN); \
               download a new key from the App's settings page"
        );
    }
    Ok(secret)
}
