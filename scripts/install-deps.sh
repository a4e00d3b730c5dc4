#!/usr/bin/env bash
# Installs what llmbench needs to build and test on Debian/Ubuntu, if anything is missing.
# --with-browser also installs Chromium, which the HTML report's browser test renders in;
# --with-clang installs clang with its sanitizer runtimes and libFuzzer, and lld (the asan and
# tsan presets link with it: a third of GNU ld's time for their large binaries);
# --with-npm-tools installs, from the npm registry into tools/k8s-validate, the Kubernetes schema
# checker that tests docs/scale's Job (Node.js and npm from Debian where they are missing);
# --with-cross installs qemu-user and the aarch64 cross libraries, with which clang builds the
# event loop's tests for 64-bit ARM and qemu runs them (tests/cross/aarch64.cmake).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(build-essential cmake ninja-build pkg-config git
          libcpp-httplib-dev libsimdjson-dev doctest-dev libcli11-dev
          zlib1g-dev libbz2-dev python3 bubblewrap)
with_clang=0
with_npm_tools=0
for arg in "$@"; do
  case "$arg" in
    --with-browser) packages+=(chromium) ;;
    --with-npm-tools) with_npm_tools=1; command -v npm >/dev/null || packages+=(nodejs npm) ;;
    --with-clang) with_clang=1; packages+=(clang lld) ;;
    --with-cross) packages+=(clang qemu-user g++-aarch64-linux-gnu) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done
# clang's sanitizer runtimes and libFuzzer come in packages named after its major version.
clang_runtime() {
  local major
  major=$(clang++ --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
  if [ -n "$major" ]; then echo "libclang-rt-$major-dev libfuzzer-$major-dev"; fi
}

missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
# shellcheck disable=SC2207
missing_now=($(missing "${packages[@]}"))
if [ $with_clang = 1 ] && command -v clang++ >/dev/null; then
  # shellcheck disable=SC2207,SC2046  # (one word per package)
  missing_now+=($(missing $(clang_runtime)))
fi
npm_tools() {
  local tools="$root/tools/k8s-validate"
  # Installed already, from this lock file (npm writes its copy into node_modules).
  [ $with_npm_tools = 1 ] || return 0
  [ -f "$tools/node_modules/.package-lock.json" ] && [ ! "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ] && return 0
  echo "install-deps: installing tools/k8s-validate's npm packages" >&2
  npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error >/dev/null
}
if [ ${#missing_now[@]} -eq 0 ]; then
  npm_tools
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-deps: not a Debian/Ubuntu system; install these yourself (or use vcpkg/Conan): ${missing_now[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_install() {
  echo "install-deps: installing $*" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
$sudo apt-get update -qq
apt_install "${missing_now[@]}"
if [ $with_clang = 1 ]; then
  # shellcheck disable=SC2207,SC2046
  runtime=($(missing $(clang_runtime)))
  [ ${#runtime[@]} -eq 0 ] || apt_install "${runtime[@]}"
fi
npm_tools
