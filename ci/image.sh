#!/usr/bin/env bash
# ci/image.sh - builds the schemagate image with podman on a machine that reaches no container registry.
#
# Usage: ci/image.sh [build] [TAG]   (default TAG: localhost/schemagate:ci)
#        ci/image.sh setup             only the first three steps below
#        eval "$(ci/image.sh env)"     podman/buildah by hand with the same settings
# Steps (each skipped when already done):
#   1. installs podman, buildah, runc, catatonit (podman's pod pause process)
#      and debootstrap from Debian (ci/install-deps.sh);
#   2. writes $SG_PODMAN_DIR/containers.conf and storage.conf (default
#      <repo>/.tmp/podman) and exports CONTAINERS_CONF and
#      CONTAINERS_STORAGE_CONF, so podman's state for this checkout lives
#      there and nothing under /etc changes:
#        runtime = "runc", cgroup_manager = "cgroupfs": crun refuses a hybrid
#          cgroup v1/v2 layout, and without systemd there is no systemd manager;
#        default_ulimits below podman's defaults, which can exceed the
#          machine's hard limits and then fail with EPERM;
#   3. makes the base images docker.io/library/debian:bookworm and
#      :bookworm-slim (one image, two tags: only the builder stage uses it)
#      with `debootstrap --variant=minbase` from the Debian mirror apt already
#      uses (read from `apt-get indextargets`; SG_DEBIAN_MIRROR overrides),
#      then `podman import` with PATH set (an imported tarball has none). The
#      rootfs tarball is cached as $SG_PODMAN_DIR/debian-bookworm-minbase.tar;
#      delete it to start from scratch;
#   4. podman build --pull=never --network host --format docker (the OCI
#      format has no HEALTHCHECK); UNIT_TESTS=0 when SG_IMAGE_UNIT_TESTS=0
#      (CI has run them already), else the Dockerfile's default.
# Prints nothing on stdout but the `env` lines; progress goes to stderr.
# Needs root (or sudo) for apt-get, debootstrap and rootful podman.
set -euo pipefail
SG_PROG=ci/image.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SG_REPO_ROOT"

readonly SUITE=bookworm
readonly BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
pdir=${SG_PODMAN_DIR:-$SG_REPO_ROOT/.tmp/podman}

usage() {
    printf 'usage: ci/image.sh [build] [TAG] | setup | env\n' >&2
    exit 2
}

print_env() {
    printf "export CONTAINERS_CONF='%s' CONTAINERS_STORAGE_CONF='%s'\n" \
        "$pdir/containers.conf" "$pdir/storage.conf"
}

install_tools() {
    bash ci/install-deps.sh podman buildah runc catatonit debootstrap >&2
    local t
    for t in podman buildah runc debootstrap; do
        command -v "$t" >/dev/null || sg_die "$t not found after ci/install-deps.sh"
    done
}

# Writes $2 from stdin unless it already has exactly that content.
write_if_changed() {
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then
        rm -f "$tmp"
    else
        mv "$tmp" "$1"
        sg_log "wrote $1"
    fi
}

write_conf() {
    [[ $pdir != *"'"* && $pdir != *'"'* ]] || sg_die "SG_PODMAN_DIR must not contain quotes"
    mkdir -p "$pdir"
    write_if_changed "$pdir/containers.conf" <<EOF
# Written by ci/image.sh; used through CONTAINERS_CONF.
[containers]
# podman's defaults exceed the hard limits of some machines (EPERM at start).
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]

[engine]
# crun refuses a hybrid cgroup v1/v2 layout; runc runs on it.
runtime = "runc"
# No systemd to delegate cgroups to.
cgroup_manager = "cgroupfs"
events_logger = "file"
# Debian's catatonit lives in /usr/bin; podman builds its pause image from it.
helper_binaries_dir = ["/usr/libexec/podman", "/usr/lib/podman", "/usr/bin"]
EOF
    write_if_changed "$pdir/storage.conf" <<EOF
# Written by ci/image.sh; used through CONTAINERS_STORAGE_CONF.
[storage]
driver = "overlay"
graphroot = "$pdir/storage"
runroot = "$pdir/run"
EOF
    export CONTAINERS_CONF=$pdir/containers.conf CONTAINERS_STORAGE_CONF=$pdir/storage.conf
}

# Prints the URI of the source of apt's "$SUITE main" package list, if any.
apt_uri() {
    # shellcheck disable=SC2016 # $(...) are apt's format fields
    apt-get indextargets --format '$(REPO_URI) $(CODENAME) $(COMPONENT)' 'Identifier: Packages' \
        | awk -v s="$SUITE" '$2 == s && $3 == "main" { print $1; exit }'
}

# Prints the URI of the Debian archive apt uses for $SUITE (its main component).
debian_mirror() {
    if [[ -n ${SG_DEBIAN_MIRROR:-} ]]; then
        printf '%s\n' "$SG_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri=$(apt_uri)
    if [[ -z $uri ]]; then
        # indextargets lists only what `apt-get update` has fetched.
        sg_log "apt-get update (apt knows no package lists yet)"
        sg_as_root apt-get -qq update >&2 || sg_die "apt-get update failed"
        uri=$(apt_uri)
    fi
    [[ -n $uri ]] || sg_die "apt has no '$SUITE main' source (apt-get indextargets); set SG_DEBIAN_MIRROR"
    printf '%s\n' "$uri"
}

make_base_images() {
    local tar=$pdir/debian-$SUITE-minbase.tar
    if podman image exists "docker.io/library/debian:$SUITE" \
        && podman image exists "docker.io/library/debian:$SUITE-slim"; then
        sg_log "base images debian:$SUITE and debian:$SUITE-slim exist"
        return
    fi
    if [[ ! -s $tar ]]; then
        local mirror root start=$SECONDS
        mirror=$(debian_mirror)
        root=$(mktemp -d "$pdir/rootfs.XXXXXX")
        sg_log "debootstrap --variant=minbase $SUITE from $mirror"
        if ! sg_as_root debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$pdir/debootstrap.log" 2>&1; then
            tail -n 20 "$pdir/debootstrap.log" >&2
            sg_as_root rm -rf "$root"
            sg_die "debootstrap failed (log: $pdir/debootstrap.log)"
        fi
        # What an image needs no copy of: downloaded .debs and package lists.
        sg_as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        sg_as_root tar --numeric-owner -C "$root" -cf "$tar.part" .
        sg_as_root rm -rf "$root"
        mv "$tar.part" "$tar"
        sg_log "base rootfs in $tar ($((SECONDS - start)) s)"
    fi
    podman import --change "ENV PATH=$BASE_PATH" --change 'CMD ["bash"]' \
        "$tar" "docker.io/library/debian:$SUITE" >/dev/null \
        || sg_die "podman import $tar failed"
    podman tag "docker.io/library/debian:$SUITE" "docker.io/library/debian:$SUITE-slim"
    sg_log "imported debian:$SUITE and debian:$SUITE-slim"
}

build_image() {
    local tag=$1 start=$SECONDS
    local -a args=(--pull=never --network host --format docker -t "$tag")
    if [[ ${SG_IMAGE_UNIT_TESTS:-} == 0 ]]; then
        args+=(--build-arg UNIT_TESTS=0)
    fi
    sg_log "podman build ${args[*]} ."
    podman build "${args[@]}" . >&2 || sg_die "podman build failed"
    sg_log "built $tag in $((SECONDS - start)) s: $(podman image inspect --format '{{.Size}}' "$tag") bytes"
}

setup() {
    install_tools
    write_conf
    make_base_images
}

case ${1:-build} in
    env)
        [[ $# -eq 1 ]] || usage
        print_env
        ;;
    setup)
        [[ $# -eq 1 ]] || usage
        setup
        ;;
    build)
        [[ $# -le 2 ]] || usage
        setup
        build_image "${2:-localhost/schemagate:ci}"
        ;;
    *)
        [[ $# -eq 1 && $1 != -* ]] || usage
        setup
        build_image "$1"
        ;;
esac
