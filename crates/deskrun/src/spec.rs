//! A runner installation and every rule that validates it: names, GitHub URLs, container
//! modes, runner counts, mounts, the non-secret half of the credentials, and what two
//! installations may not share. Pure functions, no I/O (callers pass in the cache root): the
//! CLI and the app call the same rules, and most unit tests live here.
//!
//! It does not own the secrets themselves (see [`crate::secrets`]) nor what ARC makes of an
//! installation (see [`crate::arc`]).

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::arc::{CacheRoot, cache_partition};

/// Errors in what the user asked for. Each names the field, quotes the bad value and says
/// how to fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The name is not a DNS-1123 label, which every Kubernetes name derived from it must be.
    #[error(
        "name {value:?} is not valid: {reason}; use lowercase letters, digits and '-', \
         starting and ending with a letter or digit (for example {suggestion:?})"
    )]
    InvalidName {
        /// The name as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
        /// A fixed name to use instead.
        suggestion: String,
    },
    /// The name (with its instance suffix) is too long for the names ARC derives from it.
    #[error(
        "name {value:?} is too long: {length} characters{suffix_note}, but ARC derives \
         Kubernetes names such as \"<name>-gha-rs-no-permission\" that must stay within 63, \
         so at most {max} are allowed; choose a shorter name"
    )]
    NameTooLong {
        /// The name as given.
        value: String,
        /// The length of the longest scale set name it makes.
        length: usize,
        /// The longest allowed scale set name.
        max: usize,
        /// Explains the instance suffix when one is counted.
        suffix_note: String,
    },
    /// The name (or an instance's) is not a string to YAML, and ARC's chart writes it
    /// unquoted into labels, where Helm then refuses it.
    #[error(
        "name {value:?} is not valid: YAML reads {scale_set:?} as {reads_as}, and ARC's chart \
         writes the scale set name unquoted into Kubernetes labels, so Helm could not deploy \
         it; start it with a letter (for example {suggestion:?})"
    )]
    NotAYamlString {
        /// The name as given.
        value: String,
        /// The scale set name YAML misreads (the name, or one instance's `<name>-N`).
        scale_set: String,
        /// What YAML takes it for.
        reads_as: &'static str,
        /// A name to use instead.
        suggestion: String,
    },
    /// The kind cluster name is not one kind and Docker accept.
    #[error(
        "cluster name {value:?} is not valid: {reason}; use lowercase letters, digits and '-', \
         starting and ending with a letter or digit, at most {MAX_CLUSTER_NAME_LEN} characters \
         (kind names the node container \"<name>-control-plane\"), for example \"deskrun\""
    )]
    InvalidClusterName {
        /// The name as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The name is one deskrun itself uses in the cluster.
    #[error(
        "name {value:?} is reserved: deskrun's ARC controller is the Helm release {value:?} in \
         the same namespace, and a scale set of that name would replace it; choose another \
         name (for example {suggestion:?})"
    )]
    ReservedName {
        /// The name as given.
        value: String,
        /// A name to use instead.
        suggestion: String,
    },
    /// The repository URL is not one ARC understands.
    #[error("--repository {value:?} is not valid: {reason}")]
    InvalidRepository {
        /// The URL as given.
        value: String,
        /// What is wrong and what to use instead.
        reason: String,
    },
    /// Unknown container mode.
    #[error(
        "--mode {value:?} is not a container mode; use one of: kubernetes (default), \
         cached-privileged-kubernetes, dind"
    )]
    InvalidMode {
        /// The mode as given.
        value: String,
    },
    /// Runner counts that cannot work together.
    #[error("{field} {value} is not valid: {fix}")]
    InvalidCount {
        /// The flag at fault.
        field: &'static str,
        /// The value given.
        value: u32,
        /// What to change.
        fix: String,
    },
    /// A `--mount`/`--cache` spec that cannot be mapped to a hostPath volume.
    #[error("{flag} {value:?} is not valid: {reason}")]
    InvalidMount {
        /// The flag it came from.
        flag: &'static str,
        /// The spec as given.
        value: String,
        /// What is wrong and how to write it instead.
        reason: String,
    },
    /// Two mounts of one installation share a target path.
    #[error(
        "--mount target {target:?} is given twice; each path inside the runner can be \
         mounted once"
    )]
    DuplicateMountTarget {
        /// The repeated target.
        target: String,
    },
    /// Two mounts of one installation share a host directory.
    #[error(
        "--mount source {path:?} is given twice; each host directory can hold one mount's \
         files: mount it once, or give each target its own directory"
    )]
    DuplicateMountSource {
        /// The repeated source.
        path: String,
    },
    /// Unknown authentication type.
    #[error("--auth-type {value:?} is not valid; use pat or github-app")]
    InvalidAuthType {
        /// The type as given.
        value: String,
    },
    /// A GitHub App without its App ID.
    #[error(
        "--app-id is required with --auth-type github-app: ARC needs the App ID (or client \
         ID) shown on the App's settings page"
    )]
    MissingAppId,
    /// A GitHub App App ID that cannot be right.
    #[error(
        "--app-id {value:?} is not valid: use the numeric App ID or the client ID (Iv…) shown \
         on the App's settings page"
    )]
    InvalidAppId {
        /// The ID as given.
        value: String,
    },
    /// A GitHub App installation ID that is not a positive integer.
    #[error(
        "--installation-id {value:?} is not valid: it is the number at the end of the \
         App installation's URL (…/settings/installations/<id>){hint}"
    )]
    InvalidInstallationId {
        /// The ID as given.
        value: String,
        /// Extra hint, e.g. when a client ID was pasted.
        hint: &'static str,
    },
    /// A GitHub App without its installation ID, where it cannot be looked up.
    #[error(
        "--installation-id is required with --auth-type github-app and --no-verify (without \
         --no-verify deskrun looks it up): it is the number at the end of the App \
         installation's URL (…/settings/installations/<id>)"
    )]
    MissingInstallationId,
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The longest scale set name ARC can take: the chart derives
/// `<name>-gha-rs-no-permission` (21 more characters, the longest suffix in
/// gha-runner-scale-set 0.14.2's `_helpers.tpl`) and every Kubernetes name stays within 63.
pub const MAX_SCALE_SET_NAME_LEN: usize = 63 - "-gha-rs-no-permission".len();

/// Scale set names longer than this risk job pod name collisions in kubernetes mode: ARC's
/// container hook derives job pod names from the runner pod name and shortens them.
pub const JOB_POD_NAME_WARN_LEN: usize = 35;

/// The largest `--instances` value: each instance is a scale set with its own listener pod,
/// and more than this on one machine is almost certainly a typo.
pub const MAX_INSTANCES: u32 = 32;

/// The largest `--max-runners` value deskrun accepts on one machine.
pub const MAX_RUNNERS: u32 = 256;

/// Default minimum number of idle runners.
pub const DEFAULT_MIN_RUNNERS: u32 = 1;

/// Default maximum number of runners.
pub const DEFAULT_MAX_RUNNERS: u32 = 5;

/// Checks that `name` is a DNS-1123 label short enough for ARC with `instances` instances.
pub fn validate_name(name: &str, instances: u32) -> Result<()> {
    let invalid = |reason| Error::InvalidName {
        value: name.to_owned(),
        reason,
        suggestion: suggest_name(name, instances),
    };
    if let Some(reason) = dns_label_problem(name) {
        return Err(invalid(reason));
    }
    let suffix = instance_suffix_len(instances);
    if name.len() + suffix > MAX_SCALE_SET_NAME_LEN {
        let suffix_note = if suffix > 0 {
            format!(" with the instance suffix \"-{instances}\"")
        } else {
            String::new()
        };
        return Err(Error::NameTooLong {
            value: name.to_owned(),
            length: name.len() + suffix,
            max: MAX_SCALE_SET_NAME_LEN.saturating_sub(suffix),
            suffix_note,
        });
    }
    Ok(())
}

/// What keeps `name` from being a DNS-1123 label (length aside), if anything.
fn dns_label_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Some("it has characters other than lowercase letters, digits and '-'");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("it starts or ends with '-'");
    }
    None
}

/// How many characters `--instances` adds to a scale set name (`-N`, the longest N).
fn instance_suffix_len(instances: u32) -> usize {
    if instances > 1 { format!("-{instances}").len() } else { 0 }
}

/// The scale set name of `instance` of installation `name` (`None`: the only one).
fn scale_set_name(name: &str, instance: Option<u32>) -> String {
    match instance {
        Some(i) => format!("{name}-{i}"),
        None => name.to_owned(),
    }
}

/// The longest kind cluster name: its node is the container and host `<name>-control-plane`,
/// which must stay a 63-character DNS label.
pub const MAX_CLUSTER_NAME_LEN: usize = 63 - "-control-plane".len();

/// Checks a kind cluster name (the setting, not a runner's name: none of ARC's limits apply).
pub fn validate_cluster_name(name: &str) -> Result<()> {
    let problem = dns_label_problem(name)
        .or_else(|| (name.len() > MAX_CLUSTER_NAME_LEN).then_some("it is too long"));
    match problem {
        Some(reason) => Err(Error::InvalidClusterName { value: name.to_owned(), reason }),
        None => Ok(()),
    }
}

/// Checks an installation's name: [`validate_name`], and not a name deskrun itself uses in
/// the cluster.
pub fn validate_installation_name(name: &str, instances: u32) -> Result<()> {
    validate_name(name, instances)?;
    // NB: scale set releases share the controller's namespace; with one instance the release
    // is the bare name (more instances add "-N", but the rule should not change when the
    // count does).
    if name == crate::arc::CONTROLLER_RELEASE {
        return Err(Error::ReservedName {
            value: name.to_owned(),
            suggestion: format!("{name}-runner"),
        });
    }
    let instance_names =
        (1..=instances).filter(|_| instances > 1).map(|i| scale_set_name(name, Some(i)));
    let scale_sets = std::iter::once(name.to_owned()).chain(instance_names);
    for scale_set in scale_sets {
        if let Some(reads_as) = yaml_non_string(&scale_set) {
            return Err(Error::NotAYamlString {
                value: name.to_owned(),
                scale_set,
                reads_as,
                suggestion: format!("runner-{name}"),
            });
        }
    }
    Ok(())
}

/// What YAML reads a bare `value` as when that is not a string: the YAML 1.2 core schema
/// (through serde_norway) plus YAML 1.1's extra booleans, binary and sexagesimal-free
/// dates, which Helm's YAML library (go-yaml, 1.1) also applies.
fn yaml_non_string(value: &str) -> Option<&'static str> {
    const YAML_1_1_BOOLEANS: [&str; 6] = ["y", "yes", "n", "no", "on", "off"];
    if YAML_1_1_BOOLEANS.contains(&value) {
        return Some("a boolean (YAML 1.1)");
    }
    let is_binary = value
        .strip_prefix("0b")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b == b'0' || b == b'1'));
    // NB: all digits is a number to YAML 1.1 even with a leading zero (octal "010").
    if is_binary || value.bytes().all(|b| b.is_ascii_digit()) {
        return Some("a number");
    }
    // NB: YAML 1.1 timestamps: yyyy-m-d, which a DNS label can spell.
    let parts: Vec<&str> = value.split('-').collect();
    let is_date = matches!(parts.as_slice(), [y, m, d]
        if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len())
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())));
    if is_date {
        return Some("a date");
    }
    match serde_norway::from_str::<serde_norway::Value>(value).ok()? {
        serde_norway::Value::String(_) => None,
        serde_norway::Value::Number(_) => Some("a number"),
        serde_norway::Value::Bool(_) => Some("a boolean"),
        serde_norway::Value::Null => Some("null"),
        _ => None,
    }
}

/// A DNS-1123 label close to `name`: lowercased, other characters replaced by `-`, short
/// enough for `instances` instances' suffix.
fn suggest_name(name: &str, instances: u32) -> String {
    let mapped: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let mut collapsed = String::with_capacity(mapped.len());
    for c in mapped.chars() {
        if !(c == '-' && collapsed.ends_with('-')) {
            collapsed.push(c);
        }
    }
    let trimmed = collapsed.trim_matches('-');
    let suffix = instance_suffix_len(instances);
    let cut: String = trimmed.chars().take(MAX_SCALE_SET_NAME_LEN - suffix).collect();
    let cut = cut.trim_end_matches('-');
    match cut {
        "" => "my-runner".to_owned(),
        // NB: a suggestion must pass the rules it is offered under (".5" gave "5").
        cut if yaml_non_string(cut).is_some() || cut == crate::arc::CONTROLLER_RELEASE => {
            format!("runner-{cut}").chars().take(MAX_SCALE_SET_NAME_LEN - suffix).collect()
        }
        cut => cut.to_owned(),
    }
}

/// What a GitHub URL points at; it decides the API endpoints and the permissions needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHubScope {
    /// A repository's runners.
    Repository {
        /// The owner (user or organization).
        owner: String,
        /// The repository.
        repo: String,
    },
    /// An organization's runners.
    Organization {
        /// The organization.
        org: String,
    },
    /// An enterprise's runners.
    Enterprise {
        /// The enterprise slug.
        enterprise: String,
    },
}

/// A GitHub URL that ARC accepts as `githubConfigUrl`, in canonical form: https, lowercase
/// host, no `www.`, no trailing slash or `.git`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GitHubUrl {
    url: String,
    host: String,
    scope: GitHubScope,
}

/// Replaces credentials written into a URL (`https://TOKEN@host/…`) with `***`, so an error
/// can quote what the user typed without leaking a token.
fn redact_userinfo(input: &str) -> String {
    let Some(scheme_end) = input.find("://") else {
        return input.to_owned();
    };
    let rest = &input[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &input[..scheme_end + 3], &rest[at..]),
        None => input.to_owned(),
    }
}

/// What an error may quote of a URL as typed: credentials redacted and the query and
/// fragment cut off, since a pasted `?access_token=…` is as secret as a token in userinfo.
fn shown_url(input: &str) -> String {
    // NB: userinfo goes first: a password may hold '?' or '#', and cutting there first
    // would leave its start, and no '@' to find.
    let redacted = redact_userinfo(input.trim());
    match redacted.find(['?', '#']) {
        Some(end) => redacted[..end].to_owned(),
        None => redacted,
    }
}

/// GitHub's rule for account names: letters, digits and single inner hyphens.
fn is_owner_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// True when the path of `input` (as typed, before any URL parser resolves it) has a `.` or
/// `..` segment, also percent-encoded: the parser would silently resolve `/acme/app/..` to
/// the organization `acme`, a different scope than the one the user named.
fn has_dot_segment(input: &str) -> bool {
    let after_scheme = input.split_once("://").map_or(input, |(_, rest)| rest);
    let path = after_scheme.split(['?', '#']).next().unwrap_or_default();
    path.split(['/', '\\']).skip(1).any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

/// The longest user or organization name GitHub allows.
const MAX_ACCOUNT_NAME_LEN: usize = 39;

/// GitHub's rule for user and organization names: [`is_owner_name`], no "--", at most 39.
fn is_account_name(s: &str) -> bool {
    is_owner_name(s) && !s.contains("--") && s.len() <= MAX_ACCOUNT_NAME_LEN
}

fn is_repo_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && !s.eq_ignore_ascii_case(".git")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Top-level paths GitHub serves its own pages under, so no account can have these names;
/// ARC would take `https://github.com/settings` for an organization called "settings".
const GITHUB_PAGES: &[&str] = &[
    "about",
    "account",
    "apps",
    "codespaces",
    "collections",
    "contact",
    "customer-stories",
    "dashboard",
    "explore",
    "features",
    "issues",
    "join",
    "login",
    "logout",
    "marketplace",
    "new",
    "notifications",
    "pricing",
    "pulls",
    "readme",
    "search",
    "sessions",
    "settings",
    "signup",
    "site",
    "sponsors",
    "stars",
    "topics",
    "trending",
    "users",
    "watching",
];

/// Refuses hosts that are GitHub's but serve no repositories (`gist.github.com`,
/// `api.github.com`, …), which would otherwise be taken for an Enterprise Server.
fn refuse_non_web_host(name: &str, parts: &[&str]) -> Option<String> {
    let api_of = |web_host: &str| {
        let form = match web_path_of_api(parts) {
            Some(path) => format!("https://{web_host}/{path}"),
            None => format!("https://{web_host}/OWNER/REPO or https://{web_host}/ORG"),
        };
        format!(
            "that is GitHub's REST API address, not a web URL; ARC takes the web URL and finds \
             the API itself: use {form}"
        )
    };
    if name == "api.github.com" {
        return Some(api_of("github.com"));
    }
    if name.ends_with(".github.com") || name.ends_with(".githubusercontent.com") {
        return Some(format!(
            "{name} does not host runners' repositories; use https://github.com/OWNER/REPO or \
             https://github.com/ORG"
        ));
    }
    if name == "ghe.com" {
        return Some(
            "the GHE.com subdomain is missing; use https://TENANT.ghe.com/OWNER/REPO".to_owned(),
        );
    }
    let labels: Vec<&str> = name.strip_suffix(".ghe.com")?.split('.').collect();
    match labels.as_slice() {
        [_tenant] => None,
        ["api", tenant] => Some(api_of(&format!("{tenant}.ghe.com"))),
        [.., tenant] => Some(format!(
            "{name} is not a GHE.com tenant's address; use https://{tenant}.ghe.com/OWNER/REPO"
        )),
        [] => None,
    }
}

/// Refuses an Enterprise Server's (or github.com's) `/api/…` path, which ARC would read as a
/// repository called `api/v3`.
fn refuse_api_path(host: &str, parts: &[&str]) -> Option<String> {
    let rest = match parts {
        [first, rest @ ..] if first.eq_ignore_ascii_case("api") => rest,
        _ => return None,
    };
    let form = match rest {
        [version, api_parts @ ..] if version.eq_ignore_ascii_case("v3") => {
            web_path_of_api(api_parts).map(|path| format!("https://{host}/{path}"))
        }
        _ => None,
    };
    let form = form.unwrap_or_else(|| format!("https://{host}/OWNER/REPO or https://{host}/ORG"));
    Some(format!(
        "that is the REST API address, not a web URL; ARC takes the web URL and finds the API \
         itself: use {form}"
    ))
}

/// The web path an API path stands for: `repos/O/R/…` is the repository, `orgs/O/…` the
/// organization, `enterprises/E/…` the enterprise.
fn web_path_of_api(parts: &[&str]) -> Option<String> {
    let path = match parts {
        ["repos", owner, repo, ..] => format!("{owner}/{repo}"),
        ["orgs", org, ..] => (*org).to_owned(),
        ["enterprises", enterprise, ..] => format!("enterprises/{enterprise}"),
        _ => return None,
    };
    let names_ok = path.split('/').all(|part| !part.is_empty());
    names_ok.then_some(path)
}

/// Refuses GitHub's own pages where an account belongs: `orgs/…`, `settings/…` and the like.
fn refuse_github_page(host: &str, parts: &[&str]) -> Option<String> {
    let first = parts.first()?.to_ascii_lowercase();
    match (first.as_str(), parts.get(1)) {
        ("orgs" | "organizations", Some(org)) if !org.is_empty() => Some(format!(
            "that is the organization's page on GitHub, which ARC would read as an \
             organization named {:?}; use https://{host}/{org}",
            parts[0]
        )),
        ("orgs" | "organizations", _) => Some(format!(
            "{:?} is GitHub's list of organizations, not an organization; use https://{host}/ORG",
            parts[0]
        )),
        ("enterprises", None) => {
            Some(format!("the enterprise is missing; use https://{host}/enterprises/NAME"))
        }
        (page, _) if GITHUB_PAGES.contains(&page) => Some(format!(
            "{:?} is one of GitHub's own pages, not an account; use https://{host}/OWNER/REPO or \
             https://{host}/ORG",
            parts[0]
        )),
        _ => None,
    }
}

impl GitHubUrl {
    /// Parses and normalises a repository, organization or enterprise URL.
    pub fn parse(input: &str) -> Result<Self> {
        let shown = shown_url(input);
        let invalid = |reason: String| Error::InvalidRepository { value: shown.clone(), reason };
        let trimmed = input.trim();
        if trimmed.starts_with("git@") || trimmed.starts_with("ssh://") {
            return Err(invalid(
                "that is an SSH clone address; use the https form, e.g. \
                 https://github.com/OWNER/REPO"
                    .into(),
            ));
        }
        if has_dot_segment(trimmed) {
            return Err(invalid(
                "its path has a \".\" or \"..\" part, which would change what it points at; \
                 write the path out: https://github.com/OWNER/REPO or https://github.com/ORG"
                    .into(),
            ));
        }
        let url = url::Url::parse(trimmed).map_err(|_| {
            invalid(
                "it is not a URL; use https://github.com/OWNER/REPO or https://github.com/ORG"
                    .into(),
            )
        })?;
        if url.scheme() != "https" {
            let https = if url.scheme() == "http" {
                let mut fixed = url.clone();
                let _ = fixed.set_scheme("https");
                format!(": {}", shown_url(fixed.as_str()))
            } else {
                String::new()
            };
            return Err(invalid(format!(
                "the scheme is {:?}; GitHub URLs must use https{https}",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "it carries credentials; remove them from the URL and pass the token with \
                 --token-stdin or DESKRUN_TOKEN"
                    .into(),
            ));
        }
        // NB: a trailing dot is the same DNS name (`github.com.`); ARC and the API base
        // would otherwise carry it into every address.
        let Some(name) = url.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        else {
            return Err(invalid("it has no host; use https://github.com/OWNER/REPO".into()));
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "it has a query (?…) or fragment (#…), which ARC does not understand; remove \
                 it (the error shows the URL without it)"
                    .into(),
            ));
        }
        let name = if name == "www.github.com" { "github.com".to_owned() } else { name };
        let host = match url.port() {
            Some(port) => format!("{name}:{port}"),
            None => name.clone(),
        };
        let mut parts: Vec<&str> =
            url.path_segments().map(|segments| segments.collect()).unwrap_or_default();
        // NB: trailing slashes are noise; an empty part elsewhere (`github.com//repo`)
        // means something is missing, and dropping it would change the meaning.
        while parts.last() == Some(&"") {
            parts.pop();
        }
        let misread = refuse_non_web_host(&name, &parts)
            .or_else(|| refuse_api_path(&host, &parts))
            .or_else(|| refuse_github_page(&host, &parts));
        if let Some(reason) = misread {
            return Err(invalid(reason));
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid(format!(
                "it has an empty path part; use https://{host}/OWNER/REPO or https://{host}/ORG"
            )));
        }
        if let Some(last) = parts.last_mut() {
            let stem = last.len().saturating_sub(4);
            if stem > 0 && last.get(stem..).is_some_and(|s| s.eq_ignore_ascii_case(".git")) {
                *last = &last[..stem];
            }
        }
        // ARC only knows the lowercase spelling of the enterprise prefix.
        if let Some(first) = parts.first_mut().filter(|p| p.eq_ignore_ascii_case("enterprises")) {
            *first = "enterprises";
        }
        let scope = match parts.as_slice() {
            [] => {
                return Err(invalid(format!(
                    "the owner is missing; use https://{host}/OWNER/REPO or https://{host}/ORG"
                )));
            }
            ["enterprises", ent] => GitHubScope::Enterprise { enterprise: (*ent).to_owned() },
            [org] => GitHubScope::Organization { org: (*org).to_owned() },
            [owner, repo] => {
                GitHubScope::Repository { owner: (*owner).to_owned(), repo: (*repo).to_owned() }
            }
            [owner, repo, ..] => {
                return Err(invalid(format!(
                    "it has extra path parts ARC does not understand; use \
                     https://{host}/{owner}/{repo}"
                )));
            }
        };
        let (account, repo) = match &scope {
            GitHubScope::Repository { owner, repo } => (owner, Some(repo)),
            GitHubScope::Organization { org } => (org, None),
            GitHubScope::Enterprise { enterprise } => (enterprise, None),
        };
        let is_account = if matches!(scope, GitHubScope::Enterprise { .. }) {
            is_owner_name(account)
        } else {
            is_account_name(account)
        };
        if !is_account {
            return Err(invalid(format!(
                "{account:?} is not a GitHub account name (letters, digits and single '-' \
                 inside, at most {MAX_ACCOUNT_NAME_LEN} characters)"
            )));
        }
        if let Some(repo) = repo.filter(|repo| !is_repo_name(repo)) {
            return Err(invalid(format!(
                "{repo:?} is not a GitHub repository name (letters, digits, '-', '_' and '.'; \
                 not \".\", \"..\" or \".git\")"
            )));
        }
        if url.port().is_some() && (name == "github.com" || name.ends_with(".ghe.com")) {
            return Err(invalid(format!(
                "{name} takes no port; use https://{name}/{}",
                parts.join("/")
            )));
        }
        Ok(Self { url: format!("https://{host}/{}", parts.join("/")), host, scope })
    }

    /// The canonical URL, as written into `githubConfigUrl`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host (with port, if any).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// What the URL points at.
    pub fn scope(&self) -> &GitHubScope {
        &self.scope
    }

    /// Whether GitHub hosts it (github.com or `*.ghe.com`), rather than an Enterprise Server.
    pub fn is_github_hosted(&self) -> bool {
        self.host == "github.com" || self.host.ends_with(".ghe.com")
    }

    /// The REST API base: `https://api.github.com`, `https://api.<host>` for `*.ghe.com`,
    /// `https://<host>/api/v3` for GitHub Enterprise Server.
    pub fn api_base(&self) -> String {
        if self.host == "github.com" {
            "https://api.github.com".to_owned()
        } else if self.host.ends_with(".ghe.com") {
            format!("https://api.{}", self.host)
        } else {
            format!("https://{}/api/v3", self.host)
        }
    }
}
impl fmt::Display for GitHubUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl TryFrom<String> for GitHubUrl {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<GitHubUrl> for String {
    fn from(value: GitHubUrl) -> Self {
        value.url
    }
}

/// How jobs run, in the original deskrun's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainerMode {
    /// ARC's kubernetes mode: each job runs in its own pod with a work volume claim.
    #[default]
    Kubernetes,
    /// ARC's kubernetes-novolume mode plus a hook template that makes job pods privileged.
    CachedPrivilegedKubernetes,
    /// Docker-in-Docker: a Docker daemon beside each runner.
    Dind,
}

impl ContainerMode {
    /// Every mode, in the order `--help` lists them.
    pub const ALL: [ContainerMode; 3] =
        [Self::Kubernetes, Self::CachedPrivilegedKubernetes, Self::Dind];

    /// The name users type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kubernetes => "kubernetes",
            Self::CachedPrivilegedKubernetes => "cached-privileged-kubernetes",
            Self::Dind => "dind",
        }
    }
}

impl fmt::Display for ContainerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContainerMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| Error::InvalidMode { value: s.to_owned() })
    }
}

/// The hostPath type of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MountType {
    /// Created on the host when missing (the default).
    #[default]
    DirectoryOrCreate,
    /// Must already exist on the host.
    Directory,
    /// A Unix socket that must exist on the host, e.g. `/var/run/docker.sock`.
    Socket,
}

impl MountType {
    /// The Kubernetes hostPath type name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DirectoryOrCreate => "DirectoryOrCreate",
            Self::Directory => "Directory",
            Self::Socket => "Socket",
        }
    }
}

/// A host path mounted into runners (and, in privileged mode, into job pods).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The path on the user's machine; `None` lets deskrun choose a cache path partitioned
    /// per installation and instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    /// The absolute path inside the runner.
    pub target: PathBuf,
    /// The hostPath type.
    #[serde(default)]
    pub kind: MountType,
}

impl Mount {
    /// Parses a `--mount` spec: `target`, `src:target` or `src:target:Type`; a relative
    /// `src` is made absolute against `cwd`, and a leading `~` is the home directory.
    pub fn parse(spec: &str, cwd: &Path) -> Result<Self> {
        Self::parse_as("--mount", spec, Some(cwd))
    }

    /// Parses a mount spec where there is no working directory to resolve a relative host
    /// path against (the desktop app, started from a menu): such a path is refused.
    pub fn parse_absolute(spec: &str) -> Result<Self> {
        Self::parse_as("mount", spec, None)
    }

    /// Whether `spec` names its host path relative to the working directory (`cache:/x`),
    /// which the CLI points out.
    pub fn has_relative_source(spec: &str) -> bool {
        spec.split_once(':').is_some_and(|(source, _)| {
            !source.is_empty() && !source.starts_with('~') && !Path::new(source).is_absolute()
        })
    }

    /// Parses a `--cache` spec, the original deskrun's spelling: `target` or `src:target`,
    /// several separated by commas.
    pub fn parse_cache(spec: &str, cwd: &Path) -> Result<Vec<Self>> {
        spec.split(',')
            .map(|one| {
                if one.split(':').count() > 2 {
                    return Err(Error::InvalidMount {
                        flag: "--cache",
                        value: one.to_owned(),
                        reason: "--cache takes TARGET or SRC:TARGET; use --mount \
                                 SRC:TARGET:TYPE to give a type"
                            .to_owned(),
                    });
                }
                Self::parse_as("--cache", one, Some(cwd))
            })
            .collect()
    }

    fn parse_as(flag: &'static str, spec: &str, cwd: Option<&Path>) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidMount {
            flag,
            value: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid(
                "a part is empty; write TARGET, SRC:TARGET or SRC:TARGET:TYPE, \
                 e.g. /var/lib/docker or ~/cache/npm:/root/.npm",
            ));
        }
        let (source, target, kind) = match parts.as_slice() {
            [target, kind] if parse_mount_type(kind).is_some() => {
                return Err(invalid(&format!(
                    "a type needs a host path: write SRC:{target}:{kind} (the {kind} on this \
                     machine, then where the runner sees it)"
                )));
            }
            [target] => (None, *target, MountType::default()),
            [source, target] => (Some(*source), *target, MountType::default()),
            [source, target, kind] => {
                let kind = parse_mount_type(kind).ok_or_else(|| {
                    invalid(&format!(
                        "unknown type {kind:?}; use DirectoryOrCreate (default), Directory or \
                         Socket"
                    ))
                })?;
                (Some(*source), *target, kind)
            }
            _ => {
                return Err(invalid(
                    "too many ':' parts; write TARGET, SRC:TARGET or SRC:TARGET:TYPE",
                ));
            }
        };
        let target = PathBuf::from(target);
        if !target.is_absolute() {
            return Err(invalid(
                "the target must be an absolute path inside the runner, e.g. /root/.cache",
            ));
        }
        check_clean_path(&target).map_err(invalid)?;
        let source = match source {
            Some(s) => Some(absolute_source(s, cwd).map_err(invalid)?),
            None => None,
        };
        if let Some(source) = &source {
            check_clean_path(source).map_err(invalid)?;
        }
        Ok(Self { source, target, kind })
    }

    /// Checks a mount that did not come through [`Mount::parse`] (a hand-edited config).
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: &str| Error::InvalidMount {
            flag: "--mount",
            value: self.to_spec(),
            reason: reason.to_owned(),
        };
        if !self.target.is_absolute() {
            return Err(invalid("the target must be an absolute path inside the runner"));
        }
        check_clean_path(&self.target).map_err(invalid)?;
        match &self.source {
            Some(source) if !source.is_absolute() => {
                Err(invalid("the source must be an absolute path on this machine"))
            }
            Some(source) => check_clean_path(source).map_err(invalid),
            None if self.kind == MountType::Socket => {
                Err(invalid("a Socket mount needs its source: SRC:TARGET:Socket"))
            }
            None => Ok(()),
        }
    }

    /// The spec as the user would write it.
    pub fn to_spec(&self) -> String {
        let target = self.target.display();
        match (&self.source, self.kind) {
            (None, _) => target.to_string(),
            (Some(src), MountType::DirectoryOrCreate) => format!("{}:{target}", src.display()),
            (Some(src), kind) => format!("{}:{target}:{}", src.display(), kind.as_str()),
        }
    }
}

fn parse_mount_type(kind: &str) -> Option<MountType> {
    match kind {
        "DirectoryOrCreate" => Some(MountType::DirectoryOrCreate),
        "Directory" => Some(MountType::Directory),
        "Socket" => Some(MountType::Socket),
        _ => None,
    }
}

/// Makes a mount source absolute: `~` is the home directory, a relative path is taken
/// against the working directory (refused when there is none).
fn absolute_source(source: &str, cwd: Option<&Path>) -> std::result::Result<PathBuf, &'static str> {
    let home = || {
        directories::BaseDirs::new()
            .map(|dirs| dirs.home_dir().to_path_buf())
            .ok_or("'~' needs a home directory, and none is known; write the full path")
    };
    if source == "~" {
        return home();
    }
    if let Some(rest) = source.strip_prefix("~/") {
        return Ok(home()?.join(rest));
    }
    if source.starts_with('~') {
        return Err("'~user' paths are not expanded; write the full path");
    }
    let path = Path::new(source);
    let absolute = match cwd {
        _ if path.is_absolute() => path.to_path_buf(),
        Some(cwd) => cwd.join(path),
        None => {
            return Err("the host path is relative, and the app has no working directory to \
                        take it from; write the full path (or ~/…)");
        }
    };
    // NB: `./x` is `x`: the stored path has no `.` parts to tell apart from the same one.
    Ok(absolute.components().filter(|c| !matches!(c, Component::CurDir)).collect())
}

/// Refuses paths with `..` or characters a hostPath or kind extra mount cannot carry.
fn check_clean_path(path: &Path) -> std::result::Result<(), &'static str> {
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("remove '..' from the path; write the path it points to");
    }
    let text = path.to_string_lossy();
    if text.chars().any(|c| c.is_control() || c == ',') {
        return Err("the path has a control character or ',', which a host path cannot carry");
    }
    if path == Path::new("/") {
        return Err("the root directory cannot be mounted; name a directory below it");
    }
    Ok(())
}

/// The non-secret half of an installation's credentials; the token or key is in the keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", from = "AuthRecord")]
pub enum Auth {
    /// A personal access token.
    Pat,
    /// A GitHub App: its ID (or client ID) and the installation ID; the private key is secret.
    GithubApp {
        /// The App ID or client ID.
        app_id: String,
        /// The installation of the App on the account that owns the runners.
        installation_id: u64,
    },
}

/// [`Auth`] as the config file spells it, read strictly: a `token` written into the file by
/// hand is refused (serde ignores unknown fields of a unit variant, so `Pat` is a struct
/// here), never silently dropped on the next save.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
enum AuthRecord {
    Pat {},
    GithubApp { app_id: String, installation_id: u64 },
}

impl From<AuthRecord> for Auth {
    fn from(record: AuthRecord) -> Self {
        match record {
            AuthRecord::Pat {} => Self::Pat,
            AuthRecord::GithubApp { app_id, installation_id } => {
                Self::GithubApp { app_id, installation_id }
            }
        }
    }
}

/// The `--auth-type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthType {
    /// A personal access token (the default).
    #[default]
    Pat,
    /// A GitHub App.
    GithubApp,
}

impl FromStr for AuthType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pat" => Ok(Self::Pat),
            "github-app" => Ok(Self::GithubApp),
            other => Err(Error::InvalidAuthType { value: other.to_owned() }),
        }
    }
}

impl Auth {
    /// Builds GitHub App auth from the flags, checking each.
    pub fn github_app(app_id: Option<&str>, installation_id: Option<&str>) -> Result<Self> {
        let app_id = parse_app_id(app_id)?;
        let raw = installation_id.ok_or(Error::MissingInstallationId)?;
        Ok(Self::GithubApp { app_id, installation_id: parse_installation_id(raw)? })
    }
}

/// Checks `--app-id`: ARC takes the numeric App ID or the client ID (`Iv1.…`, `Iv23…`).
pub fn parse_app_id(app_id: Option<&str>) -> Result<String> {
    let app_id = app_id.map(str::trim).filter(|s| !s.is_empty()).ok_or(Error::MissingAppId)?;
    let numeric = app_id.bytes().all(|b| b.is_ascii_digit()) && app_id != "0";
    let client_id = app_id.starts_with("Iv")
        && app_id.len() > 4
        && app_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    if !numeric && !client_id {
        return Err(Error::InvalidAppId { value: app_id.to_owned() });
    }
    Ok(app_id.to_owned())
}

/// Checks `--installation-id`: a positive integer (a pasted client ID gets a hint).
pub fn parse_installation_id(raw: &str) -> Result<u64> {
    let raw = raw.trim();
    match raw.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => {
            let hint = if raw.starts_with("Iv") {
                "; this looks like a Client ID, which belongs in --app-id"
            } else {
                ""
            };
            Err(Error::InvalidInstallationId { value: raw.to_owned(), hint })
        }
    }
}

/// One configured runner installation: a repository (or organization, or enterprise) and
/// how its runners run. Everything here is safe to write to the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    /// The scale set name (`runs-on:` target), or the prefix of `<name>-<i>` with instances.
    pub name: String,
    /// Where the runners register.
    pub repository: GitHubUrl,
    /// How jobs run.
    #[serde(default)]
    pub mode: ContainerMode,
    /// Idle runners kept ready (ignored with instances > 1).
    pub min_runners: u32,
    /// The most runners at once (ignored with instances > 1).
    pub max_runners: u32,
    /// Separate scale sets `<name>-1` … `<name>-N`, each with one runner.
    pub instances: u32,
    /// Host paths mounted into the runners.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// Which kind of credentials the keyring holds for this installation.
    pub auth: Auth,
}

/// Checks the runner counts: instances from 1 to [`MAX_INSTANCES`]; with one instance, max
/// from 1 to [`MAX_RUNNERS`] and min at most max. The error's `field` is the flag at fault.
pub fn check_counts(min_runners: u32, max_runners: u32, instances: u32) -> Result<()> {
    if instances == 0 || instances > MAX_INSTANCES {
        return Err(Error::InvalidCount {
            field: "--instances",
            value: instances,
            fix: format!("use a number from 1 to {MAX_INSTANCES}"),
        });
    }
    // NB: each instance runs exactly one runner, so min/max mean nothing there (a note says
    // so, see `Installation::warnings`) and are not held against the user.
    if instances > 1 {
        return Ok(());
    }
    if max_runners == 0 || max_runners > MAX_RUNNERS {
        return Err(Error::InvalidCount {
            field: "--max-runners",
            value: max_runners,
            fix: format!("use a number from 1 to {MAX_RUNNERS}"),
        });
    }
    if min_runners > max_runners {
        return Err(Error::InvalidCount {
            field: "--min-runners",
            value: min_runners,
            fix: format!(
                "it is above --max-runners {max_runners}; lower it or raise --max-runners"
            ),
        });
    }
    Ok(())
}

impl Installation {
    /// Checks every rule that does not depend on other installations.
    pub fn validate(&self) -> Result<()> {
        validate_installation_name(&self.name, self.instances)?;
        check_counts(self.min_runners, self.max_runners, self.instances)?;
        for mount in &self.mounts {
            mount.validate()?;
        }
        let mut targets: Vec<&Path> = self.mounts.iter().map(|m| m.target.as_path()).collect();
        targets.sort();
        if let Some(pair) = targets.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(Error::DuplicateMountTarget { target: pair[0].display().to_string() });
        }
        // NB: two targets on one host directory would mix two caches in every runner;
        // sockets are single things and may be mounted at two targets.
        let mut sources: Vec<&Path> = self
            .mounts
            .iter()
            .filter(|m| m.kind != MountType::Socket)
            .filter_map(|m| m.source.as_deref())
            .collect();
        sources.sort();
        if let Some(pair) = sources.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(Error::DuplicateMountSource { path: pair[0].display().to_string() });
        }
        // NB: a hand-edited config reaches here too; what add's flags refuse, it must not
        // smuggle in (an empty App ID, installation 0).
        if let Auth::GithubApp { app_id, installation_id } = &self.auth {
            parse_app_id(Some(app_id))?;
            parse_installation_id(&installation_id.to_string())?;
        }
        Ok(())
    }

    /// What is allowed but unwise about this installation, in words, for the user to see
    /// before it is saved.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.instances > 1
            && (self.min_runners, self.max_runners) != (DEFAULT_MIN_RUNNERS, DEFAULT_MAX_RUNNERS)
        {
            warnings.push(format!(
                "--min-runners {} and --max-runners {} are ignored with --instances {}: each \
                 instance runs exactly one runner",
                self.min_runners, self.max_runners, self.instances
            ));
        }
        // NB: cached-privileged-kubernetes runs its jobs through the same container hook.
        let hook_mode = matches!(
            self.mode,
            ContainerMode::Kubernetes | ContainerMode::CachedPrivilegedKubernetes
        );
        if hook_mode && self.scale_sets().iter().any(|s| s.name.len() > JOB_POD_NAME_WARN_LEN) {
            warnings.push(format!(
                "in the kubernetes modes ARC's container hook shortens job pod names, so scale \
                 set names over \
                 {JOB_POD_NAME_WARN_LEN} characters can make parallel jobs collide; a shorter \
                 name is safer"
            ));
        }
        warnings
    }

    /// The scale sets this installation makes: one, or one per instance.
    pub fn scale_sets(&self) -> Vec<ScaleSetSpec> {
        if self.instances <= 1 {
            return vec![ScaleSetSpec {
                name: scale_set_name(&self.name, None),
                instance: None,
                min_runners: self.min_runners,
                max_runners: self.max_runners,
            }];
        }
        (1..=self.instances)
            .map(|i| ScaleSetSpec {
                name: scale_set_name(&self.name, Some(i)),
                instance: Some(i),
                min_runners: 1,
                max_runners: 1,
            })
            .collect()
    }

    /// The `runs-on:` value a workflow uses to reach this installation; with instances, an
    /// expression that spreads runs over them.
    pub fn runs_on(&self) -> String {
        if self.instances <= 1 {
            self.name.clone()
        } else {
            format!("{}-${{{{ github.run_number % {} + 1 }}}}", self.name, self.instances)
        }
    }
}

/// One scale set (Helm release) of an installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleSetSpec {
    /// Release and `runnerScaleSetName`.
    pub name: String,
    /// The instance number with `--instances`, else `None`.
    pub instance: Option<u32>,
    /// `minRunners`.
    pub min_runners: u32,
    /// `maxRunners`.
    pub max_runners: u32,
}

/// Two installations that would share what must be theirs alone: a scale set name, or a
/// host directory their runners keep caches in.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Collision {
    /// Both installations would make a scale set of this name.
    #[error(
        "scale set name {scale_set:?} of installation {installation:?} is already used by \
         installation {other:?}; choose another name"
    )]
    ScaleSetName {
        /// The scale set name.
        scale_set: String,
        /// The installation being checked.
        installation: String,
        /// The installation that already has it.
        other: String,
    },
    /// One installation's host path is, contains or lies inside another installation's.
    #[error(transparent)]
    HostPath(Box<SharedHostPath>),
}

/// A host path of one installation that is, contains or lies inside another installation's
/// (boxed in [`Collision`]: it names two of everything).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "host path {} of installation {installation:?} ({mount}) {relation} host path {} of \
     installation {other:?} ({other_mount}); two installations never share a cache: give one \
     of them another directory (sockets may be shared)",
    .path.display(),
    .other_path.display()
)]
pub struct SharedHostPath {
    /// The installation being checked.
    pub installation: String,
    /// Its host path.
    pub path: PathBuf,
    /// The mount that path serves, as the user would write it.
    pub mount: String,
    /// "is the same as", "is inside" or "contains".
    pub relation: &'static str,
    /// The installation already using the other path.
    pub other: String,
    /// The other installation's host path.
    pub other_path: PathBuf,
    /// The mount the other path serves.
    pub other_mount: String,
}

/// A host directory an installation's runners write to, and the mount it serves.
struct HostClaim {
    path: PathBuf,
    mount: String,
}

/// Every host directory `inst` writes to: the sources it names and, under `cache_root`, the
/// caches deskrun chooses for it (one per instance and target). Sockets are left out: one
/// socket is meant to be shared.
fn host_claims(inst: &Installation, cache_root: Option<&CacheRoot>) -> Vec<HostClaim> {
    let mut claims = Vec::new();
    for mount in inst.mounts.iter().filter(|m| m.kind != MountType::Socket) {
        let spec = mount.to_spec();
        match (&mount.source, cache_root) {
            (Some(source), _) => {
                claims.push(HostClaim { path: source.clone(), mount: format!("--mount {spec:?}") });
            }
            (None, Some(root)) => {
                claims.extend(inst.scale_sets().into_iter().map(|set| HostClaim {
                    path: root.host.join(cache_partition(&inst.name, set.instance, &mount.target)),
                    mount: format!("the cache deskrun chose for --mount {spec:?}"),
                }))
            }
            (None, None) => {}
        }
    }
    claims
}

/// How host path `a` stands to `b`, if they overlap. Paths compare by component, so
/// `/a/b` is inside `/a` but not inside `/a/bc`.
fn overlap(a: &Path, b: &Path) -> Option<&'static str> {
    if a == b {
        Some("is the same as")
    } else if a.starts_with(b) {
        Some("is inside")
    } else if b.starts_with(a) {
        Some("contains")
    } else {
        None
    }
}

/// Checks that `candidate` can join `existing`: no scale set name used twice, and no host
/// path of one installation the same as, inside or containing another's, counting the
/// caches deskrun chooses under `cache_root` (`None` when no data directory is known, so
/// no such cache can exist). An installation of the candidate's own name is the one it
/// replaces and is skipped.
pub fn check_collisions<'a>(
    candidate: &Installation,
    existing: impl IntoIterator<Item = &'a Installation>,
    cache_root: Option<&CacheRoot>,
) -> Result<(), Collision> {
    let wanted: Vec<String> = candidate.scale_sets().into_iter().map(|s| s.name).collect();
    let claims = host_claims(candidate, cache_root);
    for other in existing {
        if other.name == candidate.name {
            continue;
        }
        if let Some(set) = other.scale_sets().into_iter().find(|set| wanted.contains(&set.name)) {
            return Err(Collision::ScaleSetName {
                scale_set: set.name,
                installation: candidate.name.clone(),
                other: other.name.clone(),
            });
        }
        for theirs in host_claims(other, cache_root) {
            for ours in &claims {
                if let Some(relation) = overlap(&ours.path, &theirs.path) {
                    return Err(Collision::HostPath(Box::new(SharedHostPath {
                        installation: candidate.name.clone(),
                        path: ours.path.clone(),
                        mount: ours.mount.clone(),
                        relation,
                        other: other.name.clone(),
                        other_path: theirs.path,
                        other_mount: theirs.mount,
                    })));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_dns_labels_and_get_a_suggestion() {
        assert!(validate_name("my-runner", 1).is_ok());
        let err = validate_name("My_Runner", 1).unwrap_err();
        assert!(
            err.to_string().contains("\"my-runner\""),
            "the error should suggest the fixed name: {err}"
        );
        assert!(validate_name("-a", 1).is_err());
        assert!(validate_name("", 1).is_err());
    }

    #[test]
    fn the_suggested_name_passes_the_rules_it_is_offered_under() {
        for (bad, instances) in [(".5", 1), ("1e+5", 1), ("1E5", 1), ("ARC", 1), ("0x_1", 2)] {
            let Err(Error::InvalidName { suggestion, .. }) = validate_name(bad, instances) else {
                panic!("{bad} must be refused as not a DNS label");
            };
            assert_eq!(
                validate_installation_name(&suggestion, instances),
                Ok(()),
                "{bad} suggested {suggestion}"
            );
        }
    }

    #[test]
    fn the_suggested_name_itself_fits_with_the_instance_suffix() {
        let long = format!("My_{}", "x".repeat(60));
        for instances in [1, 2, 10, MAX_INSTANCES] {
            let Err(Error::InvalidName { suggestion, .. }) = validate_name(&long, instances) else {
                panic!("{long} must be refused as not a DNS label");
            };
            assert_eq!(validate_name(&suggestion, instances), Ok(()), "{suggestion} x{instances}");
        }
    }

    #[test]
    fn name_length_counts_the_instance_suffix() {
        let name = "a".repeat(MAX_SCALE_SET_NAME_LEN);
        assert!(validate_name(&name, 1).is_ok(), "42 characters fit without instances");
        let err = validate_name(&name, 2).unwrap_err();
        assert!(matches!(err, Error::NameTooLong { .. }), "the -2 suffix pushes it over: {err}");
        assert!(validate_name(&"a".repeat(MAX_SCALE_SET_NAME_LEN + 1), 1).is_err());
    }

    #[test]
    fn github_urls_know_their_scope_and_api() {
        let url = GitHubUrl::parse("https://GitHub.com/acme/app").unwrap();
        assert_eq!(url.api_base(), "https://api.github.com");
        assert!(matches!(url.scope(), GitHubScope::Repository { .. }));
        let url = GitHubUrl::parse("https://octo.ghe.com/acme").unwrap();
        assert_eq!(url.api_base(), "https://api.octo.ghe.com");
        assert!(matches!(url.scope(), GitHubScope::Organization { .. }));
        let url = GitHubUrl::parse("https://git.corp:8443/enterprises/big").unwrap();
        assert_eq!(url.api_base(), "https://git.corp:8443/api/v3");
        assert_eq!(url.as_str(), "https://git.corp:8443/enterprises/big");
    }

    #[test]
    fn a_token_in_the_url_is_refused_and_never_quoted() {
        let err = GitHubUrl::parse("https://ghp_secret123@github.com/o/r").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("ghp_secret123"), "the token must not be echoed: {text}");
        assert!(text.contains("credentials"), "{text}");
        let err = GitHubUrl::parse("http://user:pw@github.com/o/r").unwrap_err().to_string();
        assert!(!err.contains("pw@"), "{err}");
    }

    #[test]
    fn github_urls_are_normalised() {
        for (input, want) in [
            ("https://github.com/owner/repo", "https://github.com/owner/repo"),
            ("https://GitHub.com/owner/repo.git/", "https://github.com/owner/repo"),
            ("https://www.github.com/acme", "https://github.com/acme"),
            ("https://github.com/enterprises/big", "https://github.com/enterprises/big"),
            ("https://acme.ghe.com/o/r", "https://acme.ghe.com/o/r"),
            ("https://github.com./acme/r", "https://github.com/acme/r"),
            ("https://github.com/acme/r.GIT", "https://github.com/acme/r"),
        ] {
            assert_eq!(GitHubUrl::parse(input).unwrap().as_str(), want, "input {input}");
        }
        let api = GitHubUrl::parse("https://ghes.corp./o/r").unwrap().api_base();
        assert_eq!(api, "https://ghes.corp/api/v3", "the trailing dot is not in the API base");
    }

    /// A URL parser resolves `..` and `.` before anyone sees them: `/acme/app/..` became the
    /// organization `acme`, silently a wider scope than the user typed.
    #[test]
    fn dot_segments_are_refused_not_resolved() {
        for input in [
            "https://github.com/acme/app/..",
            "https://github.com/acme/../other",
            "https://github.com/./acme/app",
            "https://github.com/acme/app/%2E%2E",
            "https://github.com/acme/%2e/app",
            "https://github.com/acme/app/.%2e/",
        ] {
            let err = GitHubUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains("--repository") && err.contains("\"..\""), "{input}: {err}");
        }
        assert!(GitHubUrl::parse("https://github.com/acme/a..b").is_ok(), "dots inside a name");
    }

    #[test]
    fn account_and_repository_names_follow_githubs_rules() {
        for (input, says) in [
            ("https://github.com/o--o/r", "\"o--o\" is not a GitHub account name"),
            (&format!("https://github.com/{}/r", "a".repeat(40)), "at most 39"),
            ("https://github.com/o/.git", "\".git\" is not a GitHub repository name"),
            ("https://github.com/o/r%20x", "repository name"),
            ("https://github.com:8443/o/r", "github.com takes no port"),
            ("http://github.com/o/r", "must use https: https://github.com/o/r"),
        ] {
            let err = GitHubUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains(says), "{input}: {err}");
        }
        assert!(GitHubUrl::parse(&format!("https://github.com/{}/r", "a".repeat(39))).is_ok());
        assert!(GitHubUrl::parse("https://ghes.corp:8443/o/r").is_ok(), "a GHES port stays");
    }

    #[test]
    fn owner_names_follow_githubs_hyphen_rule() {
        for input in [
            "https://github.com/-acme/r",
            "https://github.com/acme-",
            "https://github.com/enterprises/-e",
        ] {
            let err = GitHubUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains("--repository"), "{input}: {err}");
        }
        assert!(GitHubUrl::parse("https://github.com/a-c-me/r").is_ok());
    }

    /// What a user hit: `add 123` was saved, then Helm failed on every `up` ("cannot
    /// unmarshal number into … labels of type string"), since ARC's chart writes the name
    /// unquoted into labels.
    #[test]
    fn names_yaml_reads_as_something_else_are_refused() {
        for name in [
            "123",
            "0x1f",
            "0o7",
            "0b101",
            "010",
            "1e5",
            "1e-5",
            "true",
            "false",
            "null",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "2001-12-14",
        ] {
            let err = validate_installation_name(name, 1).unwrap_err().to_string();
            assert!(err.contains("YAML reads") && err.contains("runner-"), "{name}: {err}");
        }
        // An instance's name counts too: "1e-1" is a number, "2001-12-1" a date.
        assert!(validate_installation_name("1e", 1).is_ok());
        assert!(validate_installation_name("1e", 2).unwrap_err().to_string().contains("\"1e-1\""));
        assert!(validate_installation_name("2001-12", 3).is_err());
        for name in ["web", "a1", "x123", "yes-please", "on-call", "no1", "0xg", "1e5x", "12-3"] {
            assert_eq!(validate_installation_name(name, 2), Ok(()), "{name}");
        }
    }

    /// The Settings check used the runner-name rules: an empty name suggested "my-runner",
    /// and a long one was measured against ARC's "-gha-rs-no-permission".
    #[test]
    fn cluster_names_have_kinds_rules_not_a_runners() {
        assert_eq!(validate_cluster_name("deskrun"), Ok(()));
        assert_eq!(validate_cluster_name(&"c".repeat(MAX_CLUSTER_NAME_LEN)), Ok(()));
        for (name, says) in [
            ("", "it is empty"),
            ("My_Cluster", "characters other than"),
            ("-c", "starts or ends"),
            (&"c".repeat(MAX_CLUSTER_NAME_LEN + 1), "too long"),
        ] {
            let err = validate_cluster_name(name).unwrap_err().to_string();
            assert!(err.contains(says) && err.contains("control-plane"), "{name}: {err}");
            assert!(!err.contains("my-runner") && !err.contains("gha-rs"), "{err}");
        }
    }

    #[test]
    fn the_controllers_release_name_is_reserved() {
        let mut inst = installation("arc", 1, &[]);
        let err = inst.validate().unwrap_err().to_string();
        assert!(err.contains("name \"arc\" is reserved") && err.contains("arc-runner"), "{err}");
        inst.instances = 2;
        assert!(inst.validate().is_err(), "the rule does not depend on the instance count");
        inst.name = "arc-runner".into();
        assert!(inst.validate().is_ok());
    }

    #[test]
    fn github_urls_arc_would_misread_are_refused_with_the_right_form() {
        let cases = [
            ("http://github.com/o/r", "https"),
            ("https://github.com/orgs/acme", "https://github.com/acme"),
            ("https://github.com/o/r/tree/main", "https://github.com/o/r"),
            ("git@github.com:o/r.git", "https form"),
            ("https://github.com", "owner is missing"),
            ("owner/repo", "not a URL"),
            ("https://github.com/o/r%20x", "is not a GitHub repository name"),
            ("ssh://git@github.com/o/r", "https form"),
        ];
        for (input, hint) in cases {
            let err = GitHubUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains(hint), "{input}: error {err:?} should contain {hint:?}");
            assert!(err.contains("--repository"), "the error names the flag: {err}");
        }
    }

    #[test]
    fn mounts_parse_all_three_forms() {
        let cwd = Path::new("/home/u/project");
        let m = Mount::parse("/var/lib/docker", cwd).unwrap();
        assert_eq!((m.source, m.kind), (None, MountType::DirectoryOrCreate));
        let m = Mount::parse("cache/npm:/root/.npm", cwd).unwrap();
        assert_eq!(m.source.unwrap(), Path::new("/home/u/project/cache/npm"));
        let m = Mount::parse("/var/run/docker.sock:/var/run/docker.sock:Socket", cwd).unwrap();
        assert_eq!(m.kind, MountType::Socket);
    }

    #[test]
    fn bad_mounts_are_refused() {
        let cwd = Path::new("/w");
        for spec in ["relative/target", "/a:rel", "/a:/b:Bogus", "/a::/b", "/a:/b:Socket:x", "/"] {
            let err = Mount::parse(spec, cwd).unwrap_err();
            assert!(matches!(err, Error::InvalidMount { .. }), "{spec} must be refused: {err}");
        }
        let err = Mount::parse("/run/docker.sock:Socket", cwd).unwrap_err().to_string();
        assert!(
            err.contains("a type needs a host path: write SRC:/run/docker.sock:Socket"),
            "{err}"
        );
        let err = Mount::parse_absolute("./cache:/x").unwrap_err().to_string();
        assert!(err.contains("relative") && err.contains("full path"), "{err}");
        assert!(Mount::parse_absolute("/host/cache:/x").is_ok());
        assert!(Mount::parse_absolute("/var/lib/docker").is_ok(), "a target alone is fine");
        assert!(Mount::parse_absolute("~/cache:/x").is_ok(), "~ needs no working directory");
        for (spec, relative) in [("cache:/x", true), ("./c:/x", true), ("/c:/x", false)] {
            assert_eq!(Mount::has_relative_source(spec), relative, "{spec}");
        }
        assert!(!Mount::has_relative_source("~/c:/x") && !Mount::has_relative_source("/x"));
        let dotted = Mount::parse("./cache/./npm:/root/.npm", cwd).unwrap();
        assert_eq!(dotted.source.as_deref(), Some(Path::new("/w/cache/npm")), "no '.' parts kept");
    }

    #[test]
    fn counts_are_checked() {
        let mut inst = Installation {
            name: "r".into(),
            repository: GitHubUrl::parse("https://github.com/o/r").unwrap(),
            mode: ContainerMode::Kubernetes,
            min_runners: 3,
            max_runners: 2,
            instances: 1,
            mounts: vec![],
            auth: Auth::Pat,
        };
        assert!(inst.validate().unwrap_err().to_string().contains("--min-runners 3"));
        inst.min_runners = 0;
        inst.instances = 0;
        assert!(inst.validate().unwrap_err().to_string().contains("--instances 0"));
        inst.instances = 3;
        assert!(inst.validate().is_ok());
        let names: Vec<_> = inst.scale_sets().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["r-1", "r-2", "r-3"]);
    }

    #[test]
    fn github_app_needs_app_id_and_a_numeric_installation_id() {
        assert_eq!(Auth::github_app(None, Some("1")), Err(Error::MissingAppId));
        let err = Auth::github_app(Some("123"), Some("Iv1.abc")).unwrap_err().to_string();
        assert!(err.contains("Client ID"), "{err}");
        assert!(Auth::github_app(Some("123"), Some("0")).is_err());
        assert_eq!(
            Auth::github_app(Some("123"), Some("456")).unwrap(),
            Auth::GithubApp { app_id: "123".into(), installation_id: 456 }
        );
    }

    /// What the user saw: `https://github.com/orgs` was saved as organization "orgs", and
    /// ARC then registered runners nowhere.
    #[test]
    fn orgs_and_enterprises_pages_without_a_name_are_refused() {
        for (input, hint) in [
            ("https://github.com/orgs", "https://github.com/ORG"),
            ("https://github.com/orgs/", "https://github.com/ORG"),
            ("https://github.com/Organizations", "https://github.com/ORG"),
            ("https://github.com/orgs//acme", "https://github.com/ORG"),
            ("https://github.com/orgs/acme", "https://github.com/acme"),
            ("https://github.com/orgs/acme/settings/actions", "https://github.com/acme"),
            ("https://github.com/enterprises", "https://github.com/enterprises/NAME"),
            ("https://github.com/enterprises/", "https://github.com/enterprises/NAME"),
            ("https://github.com/settings/tokens", "is one of GitHub's own pages"),
            ("https://github.com/marketplace", "is one of GitHub's own pages"),
            ("https://github.com/pricing", "is one of GitHub's own pages"),
            ("https://github.com/about/careers", "is one of GitHub's own pages"),
        ] {
            let err = GitHubUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains(hint), "{input}: {err:?} should give the form {hint:?}");
        }
    }

    /// What the user saw: a GHES API address was accepted as repository "api/v3", and
    /// `https://api.github.com/…` as an Enterprise Server called api.github.com.
    #[test]
    fn api_addresses_are_refused_with_the_web_url() {
        for (input, hint) in [
            ("https://ghes.corp/api/v3", "https://ghes.corp/OWNER/REPO"),
            ("https://ghes.corp/api/v3/", "https://ghes.corp/OWNER/REPO"),
            ("https://ghes.corp/api/v3/repos/o/r", "use https://ghes.corp/o/r"),
            ("https://ghes.corp:8443/api/v3/orgs/acme", "use https://ghes.corp:8443/acme"),
            ("https://ghes.corp/api/graphql", "https://ghes.corp/OWNER/REPO"),
            ("https://api.github.com/repos/o/r", "use https://github.com/o/r"),
            ("https://api.github.com/repos/o/r/actions/runners", "use https://github.com/o/r"),
            ("https://API.github.com", "https://github.com/OWNER/REPO"),
            ("https://api.github.com/enterprises/big", "use https://github.com/enterprises/big"),
            ("https://api.octo.ghe.com/orgs/acme", "use https://octo.ghe.com/acme"),
            ("https://api.octo.ghe.com/repos/o/r", "use https://octo.ghe.com/o/r"),
        ] {
            let err = GitHubUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains("REST API"), "{input}: say why it is refused: {err}");
            assert!(err.contains(hint), "{input}: {err:?} should give the web URL {hint:?}");
        }
    }

    #[test]
    fn github_hosts_without_repositories_are_not_enterprise_servers() {
        for (input, hint) in [
            ("https://gist.github.com/o/abc", "https://github.com/OWNER/REPO"),
            ("https://raw.githubusercontent.com/o/r", "https://github.com/OWNER/REPO"),
            ("https://ghe.com/o/r", "https://TENANT.ghe.com/OWNER/REPO"),
            ("https://uploads.octo.ghe.com/o/r", "https://octo.ghe.com/OWNER/REPO"),
        ] {
            let err = GitHubUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains(hint), "{input}: {err:?} should contain {hint:?}");
        }
    }

    /// What the user saw: `https://github.com/o/r//`, pasted with a slash too many, was
    /// refused as "an empty path part" although one trailing slash was fine.
    #[test]
    fn repeated_trailing_slashes_normalise_like_one() {
        for (input, want) in [
            ("https://github.com/o/r//", "https://github.com/o/r"),
            ("https://github.com/o/r.git///", "https://github.com/o/r"),
            ("https://github.com/acme//", "https://github.com/acme"),
            ("https://github.com/Enterprises/big//", "https://github.com/enterprises/big"),
        ] {
            assert_eq!(GitHubUrl::parse(input).unwrap().as_str(), want, "input {input}");
        }
        let err = GitHubUrl::parse("https://github.com//r").unwrap_err().to_string();
        assert!(err.contains("empty path part"), "a missing owner is not noise: {err}");
    }

    /// What the user saw: a URL copied with `?access_token=ghp_…` was refused, and the
    /// error printed the token back to the terminal (and the app's log).
    #[test]
    fn a_query_or_fragment_is_refused_and_never_quoted() {
        for input in [
            "https://github.com/o/r?access_token=ghp_secret123",
            "https://github.com/o/r#ghp_secret123",
            "https://github.com/o/r/?x=1#ghp_secret123",
            "https://github.com/o/r?",
        ] {
            let err = GitHubUrl::parse(input).unwrap_err();
            let text = err.to_string();
            assert!(!text.contains("secret123"), "{input}: the query must not be echoed: {text}");
            assert!(text.contains("remove it"), "{input}: say what to do: {text}");
            let Error::InvalidRepository { value, .. } = &err else {
                panic!("{input}: a --repository error, not {err:?}");
            };
            assert!(!value.contains(['?', '#']), "{input}: quoted without them: {value}");
        }
        // Every other refusal quotes the URL the same way: no query, no userinfo.
        for input in [
            "http://github.com/o/r?token=ghp_secret123",
            "owner/repo?token=ghp_secret123",
            "git@github.com:o/r.git#ghp_secret123",
            "https://github.com/orgs/acme?ghp_secret123",
            "https://ghp_secret123@github.com/o/r?x=1",
            "https://u:ghp#secret123@github.com/o/r",
            "https://u:ghp?secret123@github.com/o/r",
        ] {
            let text = GitHubUrl::parse(input).unwrap_err().to_string();
            assert!(!text.contains("secret123"), "{input}: nothing secret is echoed: {text}");
            assert!(!text.contains("ghp"), "{input}: nor any part of it: {text}");
        }
    }

    fn installation(name: &str, instances: u32, mounts: &[&str]) -> Installation {
        let cwd = Path::new("/w");
        Installation {
            name: name.into(),
            repository: GitHubUrl::parse("https://github.com/o/r").unwrap(),
            mode: ContainerMode::Kubernetes,
            min_runners: 1,
            max_runners: 1,
            instances,
            mounts: mounts.iter().map(|spec| Mount::parse(spec, cwd).unwrap()).collect(),
            auth: Auth::Pat,
        }
    }

    #[test]
    fn long_kubernetes_mode_names_warn_and_other_modes_do_not() {
        let name = "a-very-long-runner-name-for-the-monorepo";
        let warned = installation(name, 1, &[]).warnings();
        assert!(warned.len() == 1 && warned[0].contains("job pod names"), "{warned:?}");
        // The instance suffix counts: `name-1` crosses the line where `name` does not.
        let edge = "x".repeat(JOB_POD_NAME_WARN_LEN - 1);
        assert!(installation(&edge, 1, &[]).warnings().is_empty(), "short enough alone");
        let pod_warnings = |inst: &Installation| {
            inst.warnings().into_iter().filter(|w| w.contains("job pod names")).count()
        };
        assert_eq!(pod_warnings(&installation(&edge, 2, &[])), 1, "not with `-1` added");
        let dind = Installation { mode: ContainerMode::Dind, ..installation(name, 1, &[]) };
        assert!(dind.warnings().is_empty(), "only the kubernetes hook shortens pod names");
        let privileged = Installation {
            mode: ContainerMode::CachedPrivilegedKubernetes,
            ..installation(name, 1, &[])
        };
        assert_eq!(pod_warnings(&privileged), 1, "the privileged mode uses the same hook");
    }

    #[test]
    fn min_and_max_are_ignored_with_a_note_when_instances_run_one_runner_each() {
        let mut inst = installation("r", 2, &[]);
        (inst.min_runners, inst.max_runners) = (4, 2);
        assert!(inst.validate().is_ok(), "ignored values are not refused");
        let notes = inst.warnings();
        assert!(
            notes.iter().any(|w| w.contains("--min-runners 4 and --max-runners 2 are ignored"))
        );
        (inst.min_runners, inst.max_runners) = (DEFAULT_MIN_RUNNERS, DEFAULT_MAX_RUNNERS);
        assert!(inst.warnings().is_empty(), "nothing to say about the defaults");
        inst.instances = 1;
        (inst.min_runners, inst.max_runners) = (4, 2);
        assert!(inst.validate().is_err(), "one instance uses them, so they are checked");
    }

    #[test]
    fn scale_set_names_collide_across_instances() {
        let a = installation("r", 2, &[]);
        let b = installation("r-1", 1, &[]);
        let err = check_collisions(&b, [&a], None).unwrap_err().to_string();
        assert!(err.contains("\"r-1\"") && err.contains("installation \"r\""), "{err}");
        let replacing = installation("r", 3, &[]);
        assert_eq!(check_collisions(&replacing, [&a], None), Ok(()), "it replaces itself");
    }

    /// What the user saw: installation b mounted ~/cache/npm while a mounted ~/cache, and
    /// their runners overwrote each other's caches; only identical paths were refused.
    #[test]
    fn host_paths_inside_another_installations_collide_both_ways() {
        let a = installation("a", 1, &["/h/cache:/root/.cache"]);
        let inside = installation("b", 1, &["/h/cache/npm:/root/.npm"]);
        let err = check_collisions(&inside, [&a], None).unwrap_err().to_string();
        for part in ["\"b\"", "\"a\"", "/h/cache/npm", "is inside", "/h/cache ", "/root/.cache"] {
            assert!(err.contains(part), "the error names both sides ({part}): {err}");
        }
        let err = check_collisions(&a, [&inside], None).unwrap_err().to_string();
        assert!(err.contains("contains"), "{err}");
        let same = installation("b", 1, &["/h/cache/:/x"]);
        let err = check_collisions(&same, [&a], None).unwrap_err().to_string();
        assert!(err.contains("is the same as"), "a trailing slash is the same path: {err}");
        let sibling = installation("b", 1, &["/h/cache2:/x", "/h/other:/y"]);
        assert_eq!(check_collisions(&sibling, [&a], None), Ok(()), "paths compare by component");
    }

    /// What the user saw: one installation mounted the data directory's cache root, and
    /// wrote into the caches deskrun had chosen for another.
    #[test]
    fn host_paths_over_another_installations_chosen_cache_collide() {
        let root = CacheRoot::new(Path::new("/d"));
        let auto = installation("a", 2, &["/root/.npm"]);
        for (spec, relation) in [
            ("/d:/x", "contains"),
            ("/d/cache:/x", "contains"),
            ("/d/cache/a:/x", "contains"),
            ("/d/cache/a/instance-2/root_.npm/sub:/x", "is inside"),
        ] {
            let b = installation("b", 1, &[spec]);
            let err = check_collisions(&b, [&auto], Some(&root)).unwrap_err().to_string();
            assert!(err.contains(relation), "{spec}: {err}");
            assert!(err.contains("/d/cache/a/instance-"), "{spec}: name the cache: {err}");
            assert!(err.contains("the cache deskrun chose"), "{spec}: {err}");
            let err = check_collisions(&auto, [&b], Some(&root)).unwrap_err().to_string();
            assert!(err.contains("\"a\"") && err.contains("\"b\""), "both ways: {err}");
        }
        let b = installation("b", 1, &["/d/cache/c:/x"]);
        assert_eq!(check_collisions(&b, [&auto], Some(&root)), Ok(()), "no cache of a there");
        let b = installation("b", 1, &["/d/cache:/x"]);
        assert_eq!(check_collisions(&b, [&auto], None), Ok(()), "no data dir, no chosen cache");
    }

    #[test]
    fn chosen_caches_and_sockets_are_never_collisions() {
        let root = CacheRoot::new(Path::new("/d"));
        let socket = "/var/run/docker.sock:/var/run/docker.sock:Socket";
        let a = installation("a", 2, &["/root/.npm", socket]);
        let b = installation("b", 1, &["/root/.npm", socket]);
        assert_eq!(check_collisions(&b, [&a], Some(&root)), Ok(()));
        let b = installation("a-b", 3, &["/root/.npm"]);
        assert_eq!(check_collisions(&b, [&a], Some(&root)), Ok(()), "a-b is not inside a");
    }

    /// What the user saw: `--mount ~/c:/root/.npm --mount ~/c:/root/.cargo` mixed the two
    /// caches in one directory.
    #[test]
    fn one_installation_mounting_a_source_twice_is_refused() {
        let twice = installation("a", 1, &["/h/c:/root/.npm", "/h/c/:/root/.cargo"]);
        let err = twice.validate().unwrap_err();
        assert!(matches!(err, Error::DuplicateMountSource { .. }), "{err}");
        assert!(err.to_string().contains("/h/c"), "{err}");
        let socket = "/run/docker.sock:/var/run/docker.sock:Socket";
        let sockets = installation("a", 1, &[socket, "/run/docker.sock:/run/docker.sock:Socket"]);
        assert_eq!(sockets.validate(), Ok(()), "one socket may be mounted twice");
    }
}
