#!/usr/bin/env bash
# Installs everything cased needs to build and test on Debian 12, as root.
# Idempotent: apt-get skips what is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  build-essential cmake pkg-config ccache
  libetpan-dev libgpgme-dev libgnutls28-dev libsqlite3-dev sqlite3
  libfmt-dev libspdlog-dev catch2 libtomlplusplus-dev libcli11-dev
  nlohmann-json3-dev libasio-dev libsystemd-dev libcpp-httplib-dev
  gnupg gpg-agent gpgsm swaks postfix python3 python3-aiosmtpd openssl
  dovecot-imapd dovecot-lmtpd
  scdoc man-db groff-base systemd
  neomutt
  zsh bash-completion
  clang libclang-rt-14-dev
  python3-jsonschema chromium chromium-driver curl
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  # postfix must not ask questions or start a system MTA for the tests.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  # The tests start their own postfix tools and dovecot on loopback; keep
  # the packages from starting system-wide services while they install.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ -n "$guard" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi
