#!/usr/bin/env bash
# Install the Debian packages the project's commands need, only those missing; silent when all
# are present. Shared by `make demo` / `make test` / `make dev` and `.ci/run`, so a fresh machine
# needs nothing run by hand first.
#
#   bash scripts/ensure_tools.sh          what make demo and make dev need (database clients)
#   bash scripts/ensure_tools.sh test     plus what the test suite starts or drives
#
# The one list of the project's Debian packages: one line per package,
#   <profile> <file or command proving it is installed> <Debian package>
# profile "base": make demo / make dev; profile "test": make test and CI (base included).
set -euo pipefail

TOOLS='
base pg_isready          postgresql-client
base psql                postgresql-client
base mysqladmin          mariadb-client
base mysql               mariadb-client
test /usr/sbin/vsftpd    vsftpd
test /usr/sbin/sshd      openssh-server
test ssh-keygen          openssh-client
test openssl             openssl
test /usr/bin/chromium   chromium
test redis-server        redis-server
test docker-compose      docker-compose
'

profile=${1:-base}
case "$profile" in
  base | test) ;;
  *) echo "usage: $0 [base|test]" >&2; exit 2 ;;
esac

present() { case "$1" in /*) [ -x "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac; }

need=()
while read -r tool_profile probe package; do
  [ -n "$tool_profile" ] || continue
  [ "$tool_profile" = base ] || [ "$profile" = test ] || continue
  present "$probe" && continue
  case " ${need[*]-} " in *" $package "*) ;; *) need+=("$package") ;; esac
done <<<"$TOOLS"

[ ${#need[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${need[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "not root and no sudo: run as root: apt-get install ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
