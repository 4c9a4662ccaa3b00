#!/usr/bin/env bash
# What `pip install` needs from the machine to build PyICU (names in dictionary order,
# server/core/collation.py): Debian's ICU headers, pkg-config and a C++ compiler. PyICU
# ships no wheels. Installs from Debian's packages only when missing and only as root.
set -euo pipefail

need_apt=()
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
pkg-config --exists icu-i18n 2>/dev/null || need_apt+=(libicu-dev)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing from Debian's packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "Missing ${need_apt[*]}: install them (apt-get install ${need_apt[*]}) or run as root." >&2
    exit 1
  fi
fi
