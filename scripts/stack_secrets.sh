#!/usr/bin/env bash
# The compose stack's passwords, one file each under secrets/ (docker-compose.yaml `secrets:`,
# docs/deploy.md section 2.1): creates the missing ones with a random value, never overwrites one.
#
#   bash scripts/stack_secrets.sh [folder]     # default: secrets/ beside docker-compose.yaml
#
# The folder is private (0700); the files are 0644 because compose bind-mounts them as they are
# into containers that run as other users (postgres, mysql, dagster), and the folder already keeps
# the host's other users out. alert_smtp_password starts empty (a mail server without login):
# write the password into it when ALERT_SMTP_USER is set; alert_webhook_url starts empty (chat
# alerts off): write the chat's incoming-webhook URL into it to turn them on.
set -euo pipefail
dir=${1:-"$(dirname "$0")/../secrets"}
RANDOM_SECRETS=(postgres_password postgres_pipeline_password bi_readonly_password
  api_db_password mysql_root_password mysql_readonly_password ftp_password)
EMPTY_SECRETS=(alert_smtp_password alert_webhook_url)

install -d -m 0700 "$dir"
made=0
for name in "${RANDOM_SECRETS[@]}" "${EMPTY_SECRETS[@]}"; do
  file=$dir/$name
  [ -e "$file" ] && continue
  ( umask 077
    if [[ " ${EMPTY_SECRETS[*]} " == *" $name "* ]]; then
      : >"$file"
    else
      # 32 characters of [A-Za-z0-9]: nothing a shell, a URL or SQL quoting could mangle
      value=$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
      printf '%s' "${value:0:32}" >"$file"
    fi )
  chmod 0644 "$file"
  made=$((made + 1))
done
echo "stack secrets in $dir: $made created, $(( ${#RANDOM_SECRETS[@]} + ${#EMPTY_SECRETS[@]} - made )) kept"
