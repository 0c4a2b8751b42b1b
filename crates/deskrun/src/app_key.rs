//! GitHub App private keys as people paste them: CRLF line endings, escaped `\n`, a body
//! joined into one line, text around the PEM block. [`normalize_private_key`] parses the key
//! for real and hands back clean PEM, or refuses with what the key is and how to fix it.
//!
//! It does not store keys (see [`crate::secrets`]) nor sign with them (see
//! [`crate::github`]). No error, log line or `Debug` output here ever quotes key material.

use std::error::Error as StdError;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::PrivateKey as RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::PrivateKeyInfoRef;
use secrecy::ExposeSecret as _;
use zeroize::Zeroizing;

use crate::secrets::Secret;

/// Errors in a pasted private key. Each says what the key is and how to get a usable one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing but whitespace was given.
    #[error(
        "the private key is empty; give the whole .pem file downloaded from the App's settings \
         page, from -----BEGIN to -----END"
    )]
    Empty,
    /// There is no PEM block at all.
    #[error(
        "this is not a PEM private key (there is no -----BEGIN … PRIVATE KEY----- line); give \
         the .pem file downloaded from the App's settings page"
    )]
    NotPem,
    /// An OpenSSH private key.
    #[error(
        "this is an OpenSSH key; GitHub App keys are downloaded from the App's settings page as \
         .pem; to convert: `ssh-keygen -p -m PEM -f KEY`"
    )]
    OpenSsh,
    /// A PuTTY private key.
    #[error(
        "this is a PuTTY key; GitHub App keys are downloaded from the App's settings page as \
         .pem; to convert: `puttygen KEY -O private-openssh -o key.pem`"
    )]
    Putty,
    /// A key protected by a passphrase.
    #[error(
        "this private key is encrypted with a passphrase, which ARC cannot use; decrypt it: \
         `openssl pkey -in KEY -out key.pem`"
    )]
    Encrypted,
    /// A private key of another algorithm.
    #[error(
        "this is {kind}, but GitHub Apps use RSA keys; generate a new private key on the App's \
         settings page"
    )]
    NotRsa {
        /// The kind of key, with its article ("an EC key").
        kind: &'static str,
    },
    /// A public key where the private key belongs.
    #[error(
        "this is a public key; ARC needs the App's private key: the .pem file downloaded with \
         \"Generate a private key\" on the App's settings page"
    )]
    PublicKey,
    /// A certificate where the private key belongs.
    #[error(
        "this is a certificate, not a private key; give the .pem file downloaded with \
         \"Generate a private key\" on the App's settings page"
    )]
    Certificate,
    /// A PEM block that is not a key deskrun knows.
    #[error(
        "this PEM block is a {label:?}, not an RSA private key; give the .pem file downloaded \
         from the App's settings page"
    )]
    UnknownBlock {
        /// The block's label (the text after `-----BEGIN `), which is never key material.
        label: String,
    },
    /// The block has no END line: the key was cut off.
    #[error(
        "the private key has no \"-----END {label}-----\" line: it was cut off when copied; \
         copy the whole .pem file again"
    )]
    MissingEnd {
        /// The label the END line should carry.
        label: &'static str,
    },
    /// The body does not decode as an RSA key.
    #[error(
        "the private key is damaged: {reason}; copy the whole .pem file again, or generate a \
         new private key on the App's settings page"
    )]
    Corrupt {
        /// What is wrong, in words.
        reason: &'static str,
        /// The DER parser's complaint (positions and tags, never key bytes), if it had one.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

const PKCS1_LABEL: &str = "RSA PRIVATE KEY";
const PKCS8_LABEL: &str = "PRIVATE KEY";

/// The PKCS#8 algorithm OID of RSA keys (rsaEncryption, RFC 8017).
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// The two key encodings GitHub hands out and ARC reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyForm {
    /// `-----BEGIN RSA PRIVATE KEY-----` (what GitHub downloads).
    Pkcs1,
    /// `-----BEGIN PRIVATE KEY-----` (what OpenSSL 3 writes).
    Pkcs8,
}

impl KeyForm {
    fn label(self) -> &'static str {
        match self {
            Self::Pkcs1 => PKCS1_LABEL,
            Self::Pkcs8 => PKCS8_LABEL,
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Pkcs1 => Self::Pkcs8,
            Self::Pkcs8 => Self::Pkcs1,
        }
    }
}

/// A key that parsed as RSA: the DER as given, and the PKCS#1 DER inside it for signing.
struct ParsedKey {
    form: KeyForm,
    der: Zeroizing<Vec<u8>>,
    pkcs1: Zeroizing<Vec<u8>>,
}

/// Parses a GitHub App private key as pasted and returns it as clean PEM: the encoding it
/// came in (PKCS#1 or PKCS#8, both of which ARC reads) byte for byte, under the label of that
/// encoding, with 64-character lines, `\n` endings and a final newline. Normalising a
/// normalised key changes nothing.
pub fn normalize_private_key(raw: &str) -> Result<Secret> {
    let key = parse(raw)?;
    Ok(Secret::from(to_pem(key.form, &key.der).to_string()))
}

/// The key as PKCS#1 DER, the form `jsonwebtoken` signs with.
pub(crate) fn pkcs1_der(key: &Secret) -> Result<Zeroizing<Vec<u8>>> {
    Ok(parse(key.expose_secret())?.pkcs1)
}

fn parse(raw: &str) -> Result<ParsedKey> {
    let text = unescape(raw);
    if text.trim().is_empty() {
        return Err(Error::Empty);
    }
    let Some((label, body)) = find_block(&text) else {
        return Err(classify_without_block(&text));
    };
    let form = match label {
        PKCS1_LABEL => KeyForm::Pkcs1,
        PKCS8_LABEL => KeyForm::Pkcs8,
        other => return Err(classify_label(other)),
    };
    let end = format!("-----END {}-----", form.label());
    let Some(end_at) = body.find(&end) else {
        return Err(Error::MissingEnd { label: form.label() });
    };
    let der = decode_body(&body[..end_at])?;
    // A hand-edited BEGIN line can put a key under the other label: the content decides, and
    // the clean PEM carries the right one.
    let (form, pkcs1) = match rsa_key_in(form, &der) {
        Ok(pkcs1) => (form, pkcs1),
        Err(error) => match rsa_key_in(form.other(), &der) {
            Ok(pkcs1) => (form.other(), pkcs1),
            Err(not_rsa @ Error::NotRsa { .. }) => return Err(not_rsa),
            Err(_) => return Err(error),
        },
    };
    Ok(ParsedKey { form, der, pkcs1 })
}

/// Parses `der` as an RSA key in `form` and returns the PKCS#1 key (itself, or inside PKCS#8).
fn rsa_key_in(form: KeyForm, der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let pkcs1 = match form {
        KeyForm::Pkcs1 => Zeroizing::new(der.to_vec()),
        KeyForm::Pkcs8 => pkcs8_inner_rsa_key(der)?,
    };
    RsaPrivateKey::from_pkcs1_der(&pkcs1).map_err(|e| corrupt_der(e.into()))?;
    Ok(pkcs1)
}

/// Turns escaped line breaks (`\n`, `\r\n`, `\\n` from JSON, YAML or env files) and CR or
/// CRLF endings into `\n`.
///
/// NB: PEM never contains a backslash, so any backslash run before `n` or `r` is an escape.
fn unescape(raw: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(raw.len()));
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                while chars.next_if_eq(&'\\').is_some() {}
                match chars.peek() {
                    Some('n') => {
                        chars.next();
                        out.push('\n');
                    }
                    // An escaped CR is dropped; the `\n` escape after it makes the break.
                    Some('r') => {
                        chars.next();
                    }
                    _ => out.push('\\'),
                }
            }
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            c => out.push(c),
        }
    }
    out
}

/// The label of the PEM block to read and the text after its BEGIN line. A private key block
/// wins over others, so an OpenSSL export with the certificate first still works; text
/// around the block (quotes, comments, "Bag Attributes") is ignored.
fn find_block(text: &str) -> Option<(&str, &str)> {
    const BEGIN: &str = "-----BEGIN ";
    let blocks: Vec<(&str, &str)> = text
        .match_indices(BEGIN)
        .filter_map(|(at, _)| {
            let rest = &text[at + BEGIN.len()..];
            let label_end = rest.find("-----")?;
            Some((rest[..label_end].trim(), &rest[label_end + 5..]))
        })
        .collect();
    blocks
        .iter()
        .find(|(label, _)| label.ends_with("PRIVATE KEY"))
        .or_else(|| blocks.first())
        .copied()
}

fn classify_without_block(text: &str) -> Error {
    let text = text.trim_start();
    if text.starts_with("PuTTY-User-Key-File-") {
        Error::Putty
    } else if ["ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-", "ssh-dss "]
        .iter()
        .any(|prefix| text.starts_with(prefix))
    {
        Error::PublicKey
    } else {
        Error::NotPem
    }
}

fn classify_label(label: &str) -> Error {
    match label {
        "OPENSSH PRIVATE KEY" => Error::OpenSsh,
        "ENCRYPTED PRIVATE KEY" => Error::Encrypted,
        "EC PRIVATE KEY" => Error::NotRsa { kind: "an EC key" },
        "DSA PRIVATE KEY" => Error::NotRsa { kind: "a DSA key" },
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "SSH2 PUBLIC KEY" => Error::PublicKey,
        "CERTIFICATE"
        | "TRUSTED CERTIFICATE"
        | "X509 CERTIFICATE"
        | "CERTIFICATE REQUEST"
        | "NEW CERTIFICATE REQUEST" => Error::Certificate,
        other => Error::UnknownBlock {
            // A label is never key material, but it is whatever was pasted: keep it short.
            label: other.chars().take(40).collect(),
        },
    }
}

/// Decodes the base64 between the BEGIN and END lines, whatever whitespace splits it.
fn decode_body(body: &str) -> Result<Zeroizing<Vec<u8>>> {
    // Traditional OpenSSL encryption marks a PKCS#1 block with RFC 1421 headers.
    if body.contains("Proc-Type:") && body.contains("ENCRYPTED") {
        return Err(Error::Encrypted);
    }
    let base64: Zeroizing<String> = Zeroizing::new(
        body.lines()
            .filter(|line| !line.contains(':'))
            .flat_map(|line| line.chars().filter(|c| !c.is_ascii_whitespace()))
            .collect(),
    );
    if base64.is_empty() {
        return Err(Error::Corrupt {
            reason: "there is nothing between its BEGIN and END lines",
            source: None,
        });
    }
    // NB: the base64 error is not kept as the source: it quotes the offending character.
    BASE64.decode(base64.as_bytes()).map(Zeroizing::new).map_err(|_| Error::Corrupt {
        reason: "its base64 text has characters that do not belong, or is cut short",
        source: None,
    })
}

/// Checks that a PKCS#8 key is RSA and returns the PKCS#1 key inside it.
fn pkcs8_inner_rsa_key(der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let info = PrivateKeyInfoRef::try_from(der).map_err(|e| corrupt_der(e.into()))?;
    let oid = info.algorithm.oid.to_string();
    if oid != RSA_ENCRYPTION_OID {
        return Err(Error::NotRsa { kind: key_kind(&oid) });
    }
    Ok(Zeroizing::new(info.private_key.as_bytes().to_vec()))
}

/// Names a PKCS#8 algorithm OID for the error message.
fn key_kind(oid: &str) -> &'static str {
    match oid {
        "1.2.840.10045.2.1" => "an EC key",
        "1.3.101.112" => "an Ed25519 key",
        "1.3.101.113" => "an Ed448 key",
        "1.2.840.10040.4.1" => "a DSA key",
        "1.2.840.113549.1.1.10" => "an RSA-PSS key (an RSA key restricted to PSS signatures)",
        _ => "a key of another type",
    }
}

fn corrupt_der(source: Box<dyn StdError + Send + Sync>) -> Error {
    Error::Corrupt {
        reason: "its content is not a valid RSA key; it may be cut short",
        source: Some(source),
    }
}

/// PEM as OpenSSL writes it: 64-character base64 lines, `\n` endings, a final newline.
fn to_pem(form: KeyForm, der: &[u8]) -> Zeroizing<String> {
    let base64 = Zeroizing::new(BASE64.encode(der));
    let label = form.label();
    let mut pem = Zeroizing::new(String::with_capacity(base64.len() + base64.len() / 64 + 64));
    pem.push_str(&format!("-----BEGIN {label}-----\n"));
    for line in base64.as_bytes().chunks(64) {
        // NB: base64 is ASCII, so every 64-byte chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// Test keys, made at test time with the real tools people use, so no key is committed.
#[cfg(test)]
pub(crate) mod test_keys {
    use std::path::Path;
    use std::process::Command;

    /// Runs `program args…` in `dir` and returns the file `out` it wrote.
    fn run(dir: &Path, program: &str, args: &[&str], out: &str) -> String {
        let status = Command::new(program)
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap_or_else(|e| panic!("tests need {program} on PATH: {e}"));
        assert!(status.success(), "{program} {args:?} failed: {status}");
        std::fs::read_to_string(dir.join(out)).expect("the tool wrote its output file")
    }

    /// A fresh 2048-bit RSA key in the given OpenSSL `genpkey` output form.
    fn openssl(args: &[&str]) -> String {
        let dir = tempfile::tempdir().expect("a temporary directory");
        run(dir.path(), "openssl", args, "key.pem")
    }

    /// PKCS#8 (`-----BEGIN PRIVATE KEY-----`), OpenSSL 3's default.
    pub(crate) fn rsa_pkcs8() -> String {
        openssl(&["genrsa", "-out", "key.pem", "2048"])
    }

    /// PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`), as GitHub downloads it.
    pub(crate) fn rsa_pkcs1() -> String {
        openssl(&["genrsa", "-traditional", "-out", "key.pem", "2048"])
    }

    /// The SubjectPublicKeyInfo PEM of a private key.
    pub(crate) fn public_key_of(private_pem: &str) -> String {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("key.pem"), private_pem).expect("write the key");
        run(
            dir.path(),
            "openssl",
            &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
            "pub.pem",
        )
    }

    /// A key made by `args` (any tool) that writes `out` in a fresh directory.
    pub(crate) fn made_with(program: &str, args: &[&str], out: &str) -> String {
        let dir = tempfile::tempdir().expect("a temporary directory");
        run(dir.path(), program, args, out)
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::*;
    use super::*;

    fn normalize(raw: &str) -> Result<String> {
        normalize_private_key(raw).map(|s| s.expose_secret().to_owned())
    }

    /// The error's whole chain, as the CLI would print it.
    fn chain(error: &Error) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(e) = source {
            text.push_str(": ");
            text.push_str(&e.to_string());
            source = e.source();
        }
        text
    }

    /// The base64 lines of a PEM key: any of them is key material no message may show.
    fn body_lines(pem: &str) -> Vec<&str> {
        pem.lines()
            .filter(|l| !l.is_empty() && !l.starts_with("-----") && !l.contains(':'))
            .collect()
    }

    fn assert_no_key_material(error: &Error, pem: &str) {
        let text = chain(error);
        let debug = format!("{error:?}");
        for line in body_lines(pem) {
            let probe = &line[..line.len().min(16)];
            assert!(
                !text.contains(probe) && !debug.contains(probe),
                "an error must never quote the key: {text}"
            );
        }
    }

    #[test]
    fn clean_keys_round_trip_byte_for_byte_and_twice() {
        for key in [rsa_pkcs1(), rsa_pkcs8()] {
            let once = normalize(&key).unwrap();
            assert_eq!(once, key, "OpenSSL's own PEM is already clean and must not change");
            let twice = normalize(&once).unwrap();
            assert_eq!(twice, once, "normalising must be idempotent");
        }
    }

    #[test]
    fn the_given_encoding_is_kept() {
        let pkcs1 = normalize(&rsa_pkcs1()).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let pkcs8 = normalize(&rsa_pkcs8()).unwrap();
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    }

    #[test]
    fn pasted_shapes_normalise_to_the_clean_key() {
        let key = rsa_pkcs1();
        let body: String = body_lines(&key).concat();
        let shapes = [
            ("CRLF", key.replace('\n', "\r\n")),
            ("CR", key.replace('\n', "\r")),
            ("surrounding blank lines", format!("\n\n  \t{key}\n\n  ")),
            ("escaped newlines", key.replace('\n', "\\n")),
            ("escaped CRLF", key.replace('\n', "\\r\\n")),
            ("double-escaped newlines", key.replace('\n', "\\\\n")),
            ("in JSON quotes", format!("\"{}\"", key.trim_end().replace('\n', "\\n"))),
            (
                "body joined into one line",
                format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"),
            ),
            (
                "all on one line with spaces",
                format!("-----BEGIN RSA PRIVATE KEY----- {body} -----END RSA PRIVATE KEY-----"),
            ),
            ("indented lines", key.lines().map(|l| format!("    {l}\n")).collect()),
            ("no final newline", key.trim_end().to_owned()),
        ];
        for (shape, pasted) in shapes {
            assert_eq!(
                normalize(&pasted).unwrap_or_else(|e| panic!("{shape}: {e}")),
                key,
                "a key pasted with {shape} must normalise to the clean PEM"
            );
        }
    }

    #[test]
    fn a_key_under_the_wrong_label_gets_the_right_one() {
        let pkcs8 = rsa_pkcs8();
        let relabelled = pkcs8.replace("PRIVATE KEY", "RSA PRIVATE KEY");
        assert_eq!(
            normalize(&relabelled).unwrap(),
            pkcs8,
            "a PKCS#8 body under an RSA PRIVATE KEY label must come back as PKCS#8"
        );
        let pkcs1 = rsa_pkcs1();
        let relabelled = pkcs1.replace("RSA PRIVATE KEY", "PRIVATE KEY");
        assert_eq!(normalize(&relabelled).unwrap(), pkcs1);
        let ec = made_with(
            "openssl",
            &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k"],
            "k",
        );
        let err = normalize(&ec.replace("PRIVATE KEY", "RSA PRIVATE KEY")).unwrap_err();
        assert!(
            matches!(err, Error::NotRsa { kind: "an EC key" }),
            "a relabelled EC key is still an EC key: {err}"
        );
    }

    #[test]
    fn a_pkcs8_key_gives_its_inner_pkcs1_key_for_signing() {
        let pkcs8 = Secret::from(rsa_pkcs8());
        let inner = pkcs1_der(&pkcs8).unwrap();
        assert!(
            RsaPrivateKey::from_pkcs1_der(&inner).is_ok(),
            "jsonwebtoken signs with PKCS#1 DER, so the inner key must be one"
        );
    }

    #[test]
    fn an_openssh_key_is_refused_with_the_conversion() {
        let key = made_with(
            "ssh-keygen",
            &["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", "id_rsa"],
            "id_rsa",
        );
        let err = normalize(&key).unwrap_err();
        assert!(matches!(err, Error::OpenSsh), "{err}");
        assert!(err.to_string().contains("ssh-keygen -p -m PEM -f KEY"));
        assert_no_key_material(&err, &key);
    }

    #[test]
    fn encrypted_keys_are_refused_with_the_decrypt_command() {
        let pkcs8 = made_with(
            "openssl",
            &["genpkey", "-algorithm", "RSA", "-aes256", "-pass", "pass:test", "-out", "k.pem"],
            "k.pem",
        );
        assert!(pkcs8.contains("BEGIN ENCRYPTED PRIVATE KEY"));
        let traditional = made_with(
            "sh",
            &[
                "-c",
                "openssl genrsa -traditional 2048 2>/dev/null | openssl rsa -traditional \
                 -aes256 -passout pass:test -out k.pem 2>/dev/null",
            ],
            "k.pem",
        );
        assert!(traditional.contains("Proc-Type: 4,ENCRYPTED"));
        for key in [pkcs8, traditional] {
            let err = normalize(&key).unwrap_err();
            assert!(matches!(err, Error::Encrypted), "{err}");
            assert!(err.to_string().contains("openssl pkey -in KEY -out key.pem"));
            assert_no_key_material(&err, &key);
        }
    }

    #[test]
    fn non_rsa_keys_are_refused_naming_their_kind() {
        let cases = [
            (
                made_with(
                    "openssl",
                    &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "k.pem"],
                    "k.pem",
                ),
                "an EC key",
            ),
            (
                made_with(
                    "openssl",
                    &[
                        "genpkey",
                        "-algorithm",
                        "EC",
                        "-pkeyopt",
                        "ec_paramgen_curve:P-256",
                        "-out",
                        "k.pem",
                    ],
                    "k.pem",
                ),
                "an EC key",
            ),
            (
                made_with(
                    "openssl",
                    &["genpkey", "-algorithm", "ED25519", "-out", "k.pem"],
                    "k.pem",
                ),
                "an Ed25519 key",
            ),
        ];
        for (key, kind) in cases {
            let err = normalize(&key).unwrap_err();
            assert!(
                matches!(err, Error::NotRsa { kind: k } if k == kind),
                "expected {kind}: {err}"
            );
            assert!(err.to_string().contains("GitHub Apps use RSA keys"));
            assert_no_key_material(&err, &key);
        }
    }

    #[test]
    fn public_keys_and_certificates_are_refused() {
        let key = rsa_pkcs8();
        let public = public_key_of(&key);
        let err = normalize(&public).unwrap_err();
        assert!(matches!(err, Error::PublicKey), "{err}");
        let ssh_public =
            made_with("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", "id"], "id.pub");
        let err = normalize(&ssh_public).unwrap_err();
        assert!(matches!(err, Error::PublicKey), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.pem"), &key).unwrap();
        let cert = made_with(
            "sh",
            &[
                "-c",
                &format!(
                    "openssl req -new -x509 -key {} -subj /CN=test -days 1 -out c.pem",
                    dir.path().join("key.pem").display()
                ),
            ],
            "c.pem",
        );
        let err = normalize(&cert).unwrap_err();
        assert!(matches!(err, Error::Certificate), "{err}");
    }

    #[test]
    fn a_key_next_to_its_certificate_is_found() {
        let key = rsa_pkcs8();
        let fake_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let pasted = format!("Bag Attributes\n{fake_cert}{key}");
        assert_eq!(normalize(&pasted).unwrap(), key);
    }

    #[test]
    fn damaged_keys_are_refused() {
        let key = rsa_pkcs1();
        let lines: Vec<&str> = key.lines().collect();
        let without_end = lines[..lines.len() - 1].join("\n");
        let err = normalize(&without_end).unwrap_err();
        assert!(matches!(err, Error::MissingEnd { .. }), "{err}");
        assert!(err.to_string().contains("-----END RSA PRIVATE KEY-----"));

        let cut_lines = [&lines[..5], &lines[lines.len() - 1..]].concat().join("\n");
        let mut cut_mid_line = lines.clone();
        cut_mid_line[3] = &lines[3][..10];
        let mut bad_char = lines.clone();
        let replaced = lines[4].replacen(|c: char| c.is_ascii_alphanumeric(), "*", 1);
        bad_char[4] = &replaced;
        let empty_body = "-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n";
        for (shape, pasted) in [
            ("whole lines missing", cut_lines),
            ("a line cut short", cut_mid_line.join("\n")),
            ("a character that is not base64", bad_char.join("\n")),
            ("an empty body", empty_body.to_owned()),
        ] {
            let err = normalize(&pasted).unwrap_err();
            assert!(matches!(err, Error::Corrupt { .. }), "{shape}: {err}");
            assert_no_key_material(&err, &key);
        }
    }

    #[test]
    fn nothing_useful_is_refused() {
        assert!(matches!(normalize("").unwrap_err(), Error::Empty));
        assert!(matches!(normalize(" \r\n\t\\n ").unwrap_err(), Error::Empty));
        assert!(matches!(normalize("ghp_notakey").unwrap_err(), Error::NotPem));
        let putty = "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\n";
        assert!(matches!(normalize(putty).unwrap_err(), Error::Putty));
        let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nxxx\n-----END PGP PRIVATE KEY BLOCK-----";
        let err = normalize(pgp).unwrap_err();
        assert!(
            matches!(&err, Error::UnknownBlock { label } if label == "PGP PRIVATE KEY BLOCK"),
            "{err}"
        );
    }

    #[test]
    fn debug_of_a_normalised_key_is_redacted() {
        let key = normalize_private_key(&rsa_pkcs1()).unwrap();
        assert!(
            !format!("{key:?}").contains("PRIVATE"),
            "the normalised key must stay behind Secret's redacting Debug"
        );
    }
}
