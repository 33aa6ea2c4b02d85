#!/usr/bin/env bash
# Installs the Debian packages the tests drive when they are missing:
# chromium (the browser tests, with chromedp) and haproxy (the bench's
# -balancer haproxy, which a bench test starts). Needs root (apt-get); on a
# machine where both are installed this does nothing.
set -euo pipefail
missing=()
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
	missing+=(chromium)
fi
if [ ! -x /usr/sbin/haproxy ]; then
	missing+=(haproxy)
fi
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "installing ${missing[*]} for the tests (apt-get)..."
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
command -v chromium
ls /usr/sbin/haproxy
