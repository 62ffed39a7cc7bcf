#!/usr/bin/env bash
# Runs a command with a Docker Engine: reuses one that answers, else starts a private one
# (scripts/docker-engine.sh) and stops it when the command ends, pass or fail (trap).
# Builds the local test image (scripts/test-images.sh). Without an engine the command still
# runs (the container tests then skip with one line) unless CI=true: then it fails here.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
began=$(date +%s.%N)
if line=$("$here/docker-engine.sh" start); then
    export "${line%% *}"
    if [ "${line##* }" = started ]; then  # only the one who started it stops it
        trap '"$here/docker-engine.sh" stop' EXIT
    fi
    if "$here/test-images.sh"; then
        echo "with-docker: engine ${line##* }, image ready in" \
            "$(awk "BEGIN { printf \"%.1fs\", $(date +%s.%N) - $began }") ($DOCKER_HOST)" >&2
    elif [ "${CI:-}" = true ]; then
        echo "with-docker: CI=true and the test image could not be built" >&2
        exit 1
    fi
elif [ "${CI:-}" = true ]; then
    echo "with-docker: CI=true and no Docker Engine could be started (see above)" >&2
    exit 1
else
    echo "with-docker: no Docker Engine: the container tests will skip" >&2
fi
"$@"
