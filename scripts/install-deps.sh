#!/usr/bin/env bash
# Installs what llmbench needs to build and test on Debian/Ubuntu, if anything is missing.
# --with-browser also installs Chromium, which the HTML report's browser test renders in.
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config git
          libcpp-httplib-dev libsimdjson-dev doctest-dev libcli11-dev
          zlib1g-dev libbz2-dev python3)
if [ "${1:-}" = "--with-browser" ]; then packages+=(chromium); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "install-deps: not a Debian/Ubuntu system; install these yourself (or use vcpkg/Conan): ${missing[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
