#!/usr/bin/env bash
# ci/runtime-rootfs.sh - lays out the runtime image's whole file tree: the binary, its ldd closure, CA roots, user 65532.
#
# Usage: ci/runtime-rootfs.sh BINARY DEST
# The Dockerfile's builder stage runs it and the runtime stage (FROM scratch)
# copies DEST as its root; ci/checks.d/20-runtime-deps.sh runs it on the
# binary CI built and runs the result in a chroot. DEST must not exist yet.
# It receives:
#   /usr/local/bin/schemagate       BINARY
#   every library `ldd BINARY` resolves, the dynamic loader included, at the
#   path ldd prints (symlinks resolved: one regular file per path)
#   /etc/ssl/certs/ca-certificates.crt   the CA roots (for sslmode=verify-full)
#   /etc/passwd, /etc/group          one entry each: nonroot, 65532
#   /migrations/                     empty (the chart mounts its ConfigMap there,
#                                    a derived image COPYs its files there)
# Fails when ldd reports a library as "not found". Nothing else goes in:
# no shell, no package manager, no ld.so.cache (the loader then searches its
# built-in directories, which include the ones ldd printed).
set -euo pipefail
SG_PROG=ci/runtime-rootfs.sh
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || sg_die "usage: ci/runtime-rootfs.sh BINARY DEST"
bin=$1
dest=$2
readonly CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[[ -x $bin ]] || sg_die "$bin is not an executable"
[[ ! -e $dest ]] || sg_die "$dest already exists"
[[ -f $CA_BUNDLE ]] || sg_die "$CA_BUNDLE not found (package ca-certificates)"
command -v ldd >/dev/null || sg_die "ldd not found (package libc-bin)"

out=$(ldd "$bin") || sg_die "ldd $bin failed"
if grep -q 'not found' <<<"$out"; then
    sg_die "ldd $bin: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"
fi
# "libx.so.1 => /path (0x...)" and the loader's "/lib64/ld-linux-x86-64.so.2 (0x...)";
# linux-vdso.so.1 has no file.
mapfile -t libs < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out")
((${#libs[@]} > 0)) || sg_die "ldd $bin lists no libraries (a static binary needs no closure: adapt this script)"

mkdir -p "$dest"/usr/local/bin "$dest"/etc/ssl/certs "$dest"/migrations
install -m 0755 "$bin" "$dest/usr/local/bin/schemagate"
for lib in "${libs[@]}"; do
    mkdir -p "$dest$(dirname "$lib")"
    cp -L "$lib" "$dest$lib"
done
install -m 0644 "$CA_BUNDLE" "$dest$CA_BUNDLE"
# The image runs as the numeric 65532:65532 (USER), which needs no entry;
# these only give `id`-style lookups (and libpq's getpwuid for ~/.pgpass) a
# name and a home that does not exist.
printf 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'nonroot:x:65532:\n' >"$dest/etc/group"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group"
sg_log "$dest: schemagate + ${#libs[@]} libraries, CA roots, user 65532 ($(du -sh "$dest" | cut -f1))"
