# The deskrun CLI, headless (no GTK, no WebKit): built with the project's pinned toolchain and
# wrapped so that kind, Helm and kubectl are on its PATH. Shell completions and man pages are
# generated from the binary itself, so they always match its `--help`.
{
  lib,
  stdenv,
  makeRustPlatform,
  rustToolchain,
  pkg-config,
  dbus,
  makeWrapper,
  installShellFiles,
  kind,
  kubernetes-helm,
  kubectl,
}:

let
  rustPlatform = makeRustPlatform {
    cargo = rustToolchain;
    rustc = rustToolchain;
  };
  workspace = lib.importTOML ../Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = "deskrun";
  inherit (workspace.workspace.package) version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../rustfmt.toml
      ../crates
      # A workspace member: cargo reads its manifest even when it builds only `-p deskrun`.
      ../src-tauri
      # Embedded in the CLI (cluster hosts get it pushed as is).
      ../nix/module.nix
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;
  cargoBuildFlags = [
    "--package"
    "deskrun"
  ];

  # The tests need a Kubernetes API server, a keyring and the stand-ins of tests/harness;
  # `tests/run` runs all of them (see the README), so the package build does not.
  doCheck = false;

  nativeBuildInputs = [
    pkg-config
    makeWrapper
    installShellFiles
  ];
  # libdbus: the Secret Service keyring and `deskrun doctor`'s session-bus checks.
  buildInputs = [ dbus ];

  postInstall =
    lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
      installShellCompletion --cmd deskrun \
        --bash <($out/bin/deskrun completions bash) \
        --zsh <($out/bin/deskrun completions zsh) \
        --fish <($out/bin/deskrun completions fish)
      $out/bin/deskrun man --dir man-pages
      installManPage man-pages/*.1
    ''
    + ''
      wrapProgram $out/bin/deskrun \
        --prefix PATH : ${
          lib.makeBinPath [
            kind
            kubernetes-helm
            kubectl
          ]
        }
    '';

  meta = {
    description = "Run GitHub Actions jobs on your own machine: a kind cluster with ARC runners";
    homepage = "https://github.com/deskrun/deskrun";
    license = lib.licenses.asl20;
    mainProgram = "deskrun";
    platforms = lib.platforms.unix;
  };
}
