#!/usr/bin/env bash
# Installs the Debian packages the local stack needs, only those that are missing, and runs
# `apt-get update` only when something has to be installed.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# pigz: the moby/buildkit image that setup-buildx-action and warmbuild run on GitHub's
# runners ships it, and containerd unpacks gzip layers with unpigz when it is on PATH; a
# stack daemon without it unpacks base images slower than a real runner does.
# apache2-utils: htpasswd, for the registry that requires a login (registry-auth.sh).
# openssh-client: ssh-agent, ssh-add and ssh-keygen for the ssh input's e2e test (flags_test.go).
# git: BuildKit runs it to fetch Git contexts (moby/buildkit's image ships it), and e2e
# serves repositories with its git-http-backend.
packages=(runc docker-registry debootstrap ca-certificates zstd curl tar gzip pigz apache2-utils openssh-client git)
packages+=(openssl) # remote (issue 20): the mTLS e2e makes its CA and certificates with it
packages+=(qemu-user-static binfmt-support) # multiplat (issue 18): arm64 emulation for the multi-platform e2e (binfmt.sh)
missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
# Azurite needs Node.js and npm; machines of this kind ship them (not necessarily from Debian),
# so only fall back to Debian's packages when the commands are absent.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "apt: all packages present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
  die "apt-get install ${missing[*]} failed"
echo "apt: installed ${missing[*]}"
