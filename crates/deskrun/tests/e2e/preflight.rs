//! `deskrun add` checks credentials against GitHub before saving anything. GitHub itself
//! cannot be reached here, so a local HTTP server speaks the endpoints deskrun calls, and
//! `DESKRUN_GITHUB_API_URL` points the real binary at it.

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn add(home: &Home, server: &MockServer, extra: &[&str]) -> std::process::Output {
    home.cmd()
        .args(["add", "r", "-r", "https://github.com/acme/app", "--no-deploy"])
        .args(extra)
        .env("DESKRUN_TOKEN", TOKEN)
        .env("DESKRUN_GITHUB_API_URL", server.uri())
        .output()
        .unwrap()
}

/// What the user saw: a fine-grained token without Administration write was saved, and the
/// listener failed later with a bare 403. It must be refused up front, naming the permission.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_administration_write_is_refused_before_saving() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/app/actions/runners/registration-token"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"message": "Resource not accessible by personal access token"}),
        ))
        .mount(&server)
        .await;
    let home = Home::new();
    let out = add(&home, &server, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Administration: read and write"), "the permission is named: {err}");
    assert!(!err.contains(TOKEN), "{err}");
    assert!(!home.config_path().exists(), "nothing is saved");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_working_token_is_checked_then_saved() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/app/actions/runners/registration-token"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            serde_json::json!({"token": "AABBCC", "expires_at": "2026-12-03T18:00:00Z"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let home = Home::new();
    let out = add(&home, &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(home.config_path().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"message": "Bad credentials"})),
        )
        .mount(&server)
        .await;
    let home = Home::new();
    let out = add(&home, &server, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("rejected the token"), "{}", stderr(&out));
    assert!(!home.config_path().exists());
}

/// Without --installation-id, deskrun finds the App's installation with the App's JWT.
#[tokio::test(flavor = "multi_thread")]
async fn a_github_app_installation_is_looked_up_when_omitted() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/app/installation"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 4242})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/installations/4242/access_tokens"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            serde_json::json!({"token": "ghs_installation", "expires_at": "2026-12-03T18:00:00Z"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/app/actions/runners/registration-token"))
        .and(header("authorization", "Bearer ghs_installation"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            serde_json::json!({"token": "AABBCC", "expires_at": "2026-12-03T18:00:00Z"}),
        ))
        .mount(&server)
        .await;
    let home = Home::new();
    let key = write_test_key(home.dir.path());
    let out = add(
        &home,
        &server,
        &[
            "--auth-type",
            "github-app",
            "--app-id",
            "123",
            "--private-key-file",
            key.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list = stdout(&home.ok(&["list", "--output", "json"]));
    assert!(list.contains("\"installation_id\": 4242"), "{list}");
    // A multi-line PEM key comes back from the keyring byte for byte.
    assert_eq!(
        home.keyring_lookup("r").as_deref(),
        Some(std::fs::read_to_string(&key).unwrap().as_str()),
        "key round-trips"
    );
}

/// An OpenSSH key pasted as the App key is refused with the command that converts it.
#[test]
fn an_openssh_key_is_refused_with_the_conversion_command() {
    let home = Home::new();
    let key = home.dir.path().join("id_rsa");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let out = home
        .cmd()
        .args(["add", "r", "-r", "https://github.com/acme/app", "--no-deploy", "--no-verify"])
        .args(["--auth-type", "github-app", "--app-id", "1", "--installation-id", "2"])
        .arg("--private-key-file")
        .arg(&key)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ssh-keygen -p -m PEM"), "{err}");
    assert!(!err.contains("PRIVATE KEY-----\n"), "no key material: {err}");
    assert!(!home.config_path().exists());
}
