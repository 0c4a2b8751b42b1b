{
  description = "deskrun: run GitHub Actions jobs on your own machine, with warm caches";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    # The Rust toolchain pinned in rust-toolchain.toml, exactly (nixpkgs has only its own).
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      rust-overlay,
    }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems =
        f:
        lib.genAttrs systems (
          system:
          f (
            import nixpkgs {
              inherit system;
              overlays = [ rust-overlay.overlays.default ];
            }
          )
        );
      rustToolchainOf = pkgs: pkgs.rust-bin.fromRustupToolchainFile ./rust-toolchain.toml;
      systemOf = pkgs: pkgs.stdenv.hostPlatform.system;
    in
    {
      packages = forAllSystems (pkgs: rec {
        # The CLI alone, for headless hosts and cluster hosts.
        cli = pkgs.callPackage ./nix/package.nix { rustToolchain = rustToolchainOf pkgs; };
        # The desktop app with the CLI alongside (Linux: the app needs GTK and WebKitGTK).
        app = pkgs.callPackage ./nix/app.nix {
          rustToolchain = rustToolchainOf pkgs;
          inherit cli;
        };
        default = if pkgs.stdenv.hostPlatform.isLinux then app else cli;
      });

      apps = forAllSystems (
        pkgs:
        let
          deskrun = {
            type = "app";
            program = lib.getExe self.packages.${systemOf pkgs}.cli;
            meta.description = "the deskrun CLI";
          };
          deskrun-app = {
            type = "app";
            program = lib.getExe self.packages.${systemOf pkgs}.app;
            meta.description = "the deskrun desktop app (tray and window)";
          };
        in
        {
          default = if pkgs.stdenv.hostPlatform.isLinux then deskrun-app else deskrun;
          inherit deskrun;
        }
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux { inherit deskrun-app; }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/shell.nix { rustToolchain = rustToolchainOf pkgs; };
      });

      nixosModules = {
        # A cluster host: Docker, kind, kubectl, Helm, deskrun and raised inotify limits.
        clusterHost =
          { lib, pkgs, ... }:
          {
            imports = [ ./nix/module.nix ];
            services.deskrun.clusterHost.package = lib.mkDefault self.packages.${systemOf pkgs}.cli;
          };
        default = self.nixosModules.clusterHost;
      };

      overlays.default = final: _prev: { deskrun = self.packages.${systemOf final}.cli; };
    };
}
