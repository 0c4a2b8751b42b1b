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
        # TODO(#5): the desktop app's package (app and CLI together) needs the UI's npm
        # dependencies pinned by hash, which cannot be computed without network here; until
        # then the default package is the CLI.
        default = cli;
      });

      apps = forAllSystems (
        pkgs:
        let
          deskrun = {
            type = "app";
            program = lib.getExe self.packages.${systemOf pkgs}.cli;
            meta.description = "the deskrun CLI";
          };
        in
        {
          default = deskrun;
          inherit deskrun;
        }
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
