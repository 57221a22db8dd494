#!/usr/bin/env bash
# Make sure the system programs the integration / e2e tests need are present.
# Quiet and fast when everything is installed. When something is missing:
#   - as root: one `apt-get update`, then install the missing Debian packages;
#   - otherwise: exit 1 naming the packages to install.
set -euo pipefail

# "command-to-look-for debian-package" pairs.
checks=(
  "dovecot dovecot-imapd"
  "doveadm dovecot-core"
  "thunderbird thunderbird"
  "chromium chromium"
  "zip zip"
  "unzip unzip"
  "xvfb-run xvfb"
  "xauth xauth"
  "import imagemagick"
  "softhsm2-util softhsm2"
  "/usr/lib/postgresql/15/bin/initdb postgresql"
)

have() {
  # dovecot lives in /usr/sbin, which may not be on a non-root PATH.
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

missing=()
for pair in "${checks[@]}"; do
  cmd=${pair%% *}
  pkg=${pair#* }
  if ! have "$cmd"; then
    case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
  fi
done

# dovecot-imapd ships the imap binary; dovecot-core alone is not enough.
if have dovecot && [ ! -x /usr/lib/dovecot/imap ]; then
  case " ${missing[*]-} " in *" dovecot-imapd "*) ;; *) missing+=(dovecot-imapd) ;; esac
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "  install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "ensure-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q "${missing[@]}" >&2

# Re-check so a wrong package name fails loudly here rather than in a test.
still=()
for pair in "${checks[@]}"; do
  cmd=${pair%% *}
  have "$cmd" || still+=("$cmd")
done
if [ ${#still[@]} -ne 0 ]; then
  echo "ensure-system-deps: still missing after install: ${still[*]}" >&2
  exit 1
fi
