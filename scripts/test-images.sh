#!/usr/bin/env bash
# Builds the local images the container tests and example use, offline (no registry):
#   wfrun-local/busybox:1   a root filesystem of Debian's busybox-static (/bin/busybox and a
#                           link per applet: sh, httpd, sleep, wget, ...) made with `docker import`.
# Idempotent: an existing image is kept. Needs DOCKER_HOST (see scripts/docker-engine.sh).
set -euo pipefail

image=${WFRUN_TEST_IMAGE:-wfrun-local/busybox:1}
if docker image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test-images: installing busybox-static with apt-get" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null 2>&1 || {
            apt-get update -qq >/dev/null 2>&1
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
        }
        busybox=$(command -v busybox)
    else
        echo "test-images: needs a static busybox (Debian: apt-get install busybox-static)" >&2
        exit 1
    fi
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/srv" "$root/work" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' --change 'WORKDIR /' \
    - "$image" >/dev/null
echo "test-images: built $image" >&2
