#!/bin/sh
# Make sure headless Chromium (Debian's `chromium` package) is there for the report's
# browser test (tests/test_report.py). Installs it with apt-get when missing and we are
# root; otherwise says how. Prints the browser's path.
set -eu
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
        exit 0
    fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: installing Debian's chromium for the report's browser test" >&2
    apt-get install -y -q chromium >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q chromium >/dev/null
    }
    command -v chromium
    exit 0
fi
echo "chromium.sh: chromium is missing; install it (sudo apt-get install chromium)" >&2
[ "${CI:-}" = "true" ] && exit 1
exit 0
