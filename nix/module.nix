# A deskrun cluster host: Docker, kind, kubectl, Helm and the deskrun CLI, with the kernel limits
# that kind's nodes need.
#
# Two ways in:
# - flake users import `deskrun.nixosModules.clusterHost`, which also sets `package`;
# - `deskrun cluster-host create` pushes this very file into the container as
#   /etc/nixos/deskrun-module.nix, next to a generated deskrun.nix that enables it.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.deskrun.clusterHost;
in
{
  options.services.deskrun.clusterHost = {
    enable = lib.mkEnableOption "a deskrun cluster host (Docker, kind, kubectl, Helm and deskrun)";

    package = lib.mkOption {
      type = lib.types.package;
      description = "The deskrun CLI: the deskrun flake's `packages.<system>.cli`.";
    };

    inotify = {
      maxUserWatches = lib.mkOption {
        type = lib.types.ints.positive;
        default = 524288;
        description = ''
          fs.inotify.max_user_watches. Every kind node and every pod in it watches files;
          the kernel's default (8192) makes pods fail with "too many open files".
        '';
      };
      maxUserInstances = lib.mkOption {
        type = lib.types.ints.positive;
        default = 512;
        description = "fs.inotify.max_user_instances; the default (128) runs out the same way.";
      };
    };

    dockerUsers = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "alice" ];
      description = "Users who may run Docker, and so kind and deskrun, without sudo.";
    };
  };

  config = lib.mkIf cfg.enable {
    # deskrun itself is installed from its flake.
    nix.settings.experimental-features = [
      "nix-command"
      "flakes"
    ];

    virtualisation.docker = {
      enable = true;
      # Runner caches live in kind's node container; images of finished jobs do not.
      autoPrune = {
        enable = true;
        dates = "weekly";
      };
    };

    environment.systemPackages = [
      cfg.package
      pkgs.kind
      pkgs.kubectl
      pkgs.kubernetes-helm
      pkgs.git
    ];

    # NB: in an Incus container these only take effect where the kernel lets the container set
    # them; otherwise raise them on the Incus server itself (`deskrun doctor` says which).
    boot.kernel.sysctl = {
      "fs.inotify.max_user_watches" = cfg.inotify.maxUserWatches;
      "fs.inotify.max_user_instances" = cfg.inotify.maxUserInstances;
    };

    users.users = lib.genAttrs cfg.dockerUsers (_: {
      extraGroups = [ "docker" ];
    });
  };
}
