# The desktop app (tray, window, job notifications) together with the deskrun CLI: what
# `nix run github:…/deskrun` and `nix profile install` give on Linux.
#
# The UI's npm dependencies come from ui/package-lock.json through importNpmLock, which
# fetches each package by the integrity hash the lock file already records: no extra hash to
# keep in step with the lock. The Rust crates come from Cargo.lock the same way.
{
  lib,
  makeRustPlatform,
  rustToolchain,
  cli,
  importNpmLock,
  nodejs_20,
  pkg-config,
  wrapGAppsHook3,
  copyDesktopItems,
  makeDesktopItem,
  openssl,
  dbus,
  glib,
  glib-networking,
  gtk3,
  libsoup_3,
  webkitgtk_4_1,
  librsvg,
  libayatana-appindicator,
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
  iconSizes = [
    "16x16"
    "32x32"
    "48x48"
    "64x64"
    "128x128"
    "256x256"
  ];
in
rustPlatform.buildRustPackage {
  pname = "deskrun-app";
  inherit (workspace.workspace.package) version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../rustfmt.toml
      ../crates
      ../src-tauri
      ../icons
      ../nix/module.nix
      # The UI's sources; its node_modules and dist are made here, not taken from a checkout.
      (lib.fileset.difference ../ui (
        lib.fileset.unions [
          (lib.fileset.maybeMissing ../ui/node_modules)
          (lib.fileset.maybeMissing ../ui/dist)
        ]
      ))
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;
  cargoBuildFlags = [
    "--package"
    "deskrun-app"
  ];
  # Serve the built UI from the binary (without it the app would look for Vite's dev server).
  buildFeatures = [ "custom-protocol" ];

  npmDeps = importNpmLock { npmRoot = ../ui; };
  npmRoot = "ui";

  # The app test needs a display, a keyring, a tray host and an API server: `tests/run` runs
  # it (see the README), the package build does not.
  doCheck = false;

  nativeBuildInputs = [
    nodejs_20
    importNpmLock.npmConfigHook
    pkg-config
    wrapGAppsHook3
    copyDesktopItems
  ];
  buildInputs = [
    openssl
    dbus
    glib
    glib-networking
    gtk3
    libsoup_3
    webkitgtk_4_1
    librsvg
  ];

  # tauri-build embeds ui/dist at compile time (tauri.conf.json: frontendDist), so the UI is
  # built first; `npm run build` is what tauri.conf.json's beforeBuildCommand runs too.
  preBuild = ''
    npm --prefix ui run build
  '';

  desktopItems = [
    (makeDesktopItem {
      name = "deskrun";
      desktopName = "deskrun";
      genericName = "GitHub Actions runners";
      comment = "Local GitHub Actions runners with warm caches";
      exec = "deskrun-app";
      icon = "deskrun";
      categories = [ "Development" ];
      keywords = [
        "GitHub"
        "Actions"
        "runner"
        "CI"
      ];
    })
  ];

  postInstall = ''
    ${lib.concatMapStrings (size: ''
      install -Dm644 icons/app/${size}.png $out/share/icons/hicolor/${size}/apps/deskrun.png
    '') iconSizes}
    # The CLI, its completions and man pages: one package gives both front ends.
    ln -s ${cli}/bin/deskrun $out/bin/deskrun
    mkdir -p $out/share
    for dir in man bash-completion zsh fish; do
      [ -e ${cli}/share/$dir ] && ln -s ${cli}/share/$dir $out/share/$dir
    done
  '';

  # The tray loads libayatana-appindicator at run time (dlopen), and `deskrun up` from the
  # window runs kind, Helm and kubectl.
  preFixup = ''
    gappsWrapperArgs+=(
      --prefix LD_LIBRARY_PATH : ${lib.makeLibraryPath [ libayatana-appindicator ]}
      --prefix PATH : ${
        lib.makeBinPath [
          kind
          kubernetes-helm
          kubectl
        ]
      }
    )
  '';

  meta = {
    description = "deskrun's desktop app: GitHub Actions runners on your machine, from the tray";
    homepage = "https://github.com/deskrun/deskrun";
    license = lib.licenses.asl20;
    mainProgram = "deskrun-app";
    platforms = lib.platforms.linux;
  };
}
