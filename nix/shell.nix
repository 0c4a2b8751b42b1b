# Everything to build, lint and test deskrun and its desktop app: the toolchain pinned in
# rust-toolchain.toml, Node for the UI, Go for the test harness (etcd, kube-apiserver and Helm
# are built from the Go module proxy), and the system libraries of docs ENVIRONMENT.md.
{
  lib,
  mkShell,
  rustToolchain,
  rust-analyzer,
  pkg-config,
  nodejs_20,
  go,
  python3,
  openssl,
  dbus,
  glib,
  gtk3,
  libsoup_3,
  webkitgtk_4_1,
  librsvg,
  libayatana-appindicator,
  xdotool,
  nix,
  gnome-keyring,
  libsecret,
  xvfb-run,
  dunst,
  imagemagick,
}:

mkShell {
  packages = [
    rustToolchain
    rust-analyzer
    pkg-config
    nodejs_20
    go
    # The stand-in kind and incus of tests/harness.
    python3
    # `nix-instantiate --parse` on every .nix file, as tests/run does.
    nix
    # A real keyring, notification daemon and display for the end-to-end tests.
    gnome-keyring
    libsecret
    xvfb-run
    dunst
    imagemagick
  ];

  buildInputs = [
    openssl
    dbus
    glib
    gtk3
    libsoup_3
    webkitgtk_4_1
    librsvg
    xdotool
  ];

  # The tray library loads libayatana-appindicator at run time, not at link time.
  LD_LIBRARY_PATH = lib.makeLibraryPath [ libayatana-appindicator ];
}
