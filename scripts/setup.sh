#!/usr/bin/env bash
# Installs what tinysweep needs on a Debian/Ubuntu machine, from the project's own files:
# Debian packages listed in envs/apt.txt (--no-install-recommends) and the pinned Python
# environment of envs/requirements.txt in .venv/. Idempotent: a second call does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in $(grep -v '^\s*#' envs/apt.txt); do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=.venv/.tinysweep-installed
want=$(cat envs/requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # pip's "No space left on device" comes minutes in, after a half-written .venv: say it first
  need_gb=4 # the environment takes 3.1 GB, pip's unpacking some more
  free_kb=$(df -Pk . | awk 'NR == 2 {print $4}')
  if [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ]; then
    echo "setup: the Python environment needs about ${need_gb} GB free in $(pwd); $((free_kb / 1024)) MB are free there: free some space (old clones, caches) and rerun" >&2
    exit 1
  fi
  echo "setup: installing the pinned Python environment into .venv (a few minutes, once)"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/pip install -q --disable-pip-version-check -r envs/requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
