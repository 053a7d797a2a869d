#!/bin/bash
# Create the machines' FTP account from the environment and run vsftpd in the foreground.
set -euo pipefail
# FTP_PASSWORD_FILE (the compose secret ftp_password) -> FTP_PASSWORD
. "${SHUTTER_SECRET_ENV:-/usr/local/lib/shutter/secret-env.sh}"
secret_from_file FTP_PASSWORD

: "${FTP_USER:?FTP_USER is not set: add it to .env}"
: "${FTP_PASSWORD:?FTP_PASSWORD is not set: add it to .env}"
: "${FTP_PASV_ADDRESS:?FTP_PASV_ADDRESS is not set: add this host's LAN address to .env}"

if ! id "$FTP_USER" >/dev/null 2>&1; then
  useradd --home-dir /srv/ftp --no-create-home --shell /usr/sbin/nologin "$FTP_USER"
fi
echo "$FTP_USER:$FTP_PASSWORD" | chpasswd
echo "$FTP_USER" > /etc/vsftpd.user_list
# The chroot itself stays read-only (vsftpd refuses a writable chroot); uploads go to logs/.
chown root:root /srv/ftp && chmod 0555 /srv/ftp
chown "$FTP_USER" /srv/ftp/logs && chmod 0755 /srv/ftp/logs

conf=/run/vsftpd.conf
cp /etc/vsftpd.conf "$conf"
{
  echo "pasv_address=$FTP_PASV_ADDRESS"
  echo "pasv_min_port=${FTP_PASV_MIN_PORT:-30000}"
  echo "pasv_max_port=${FTP_PASV_MAX_PORT:-30009}"
} >> "$conf"
# Archive retention (prune-archive.sh): at start, then once a day, beside vsftpd.
days=${FTP_ARCHIVE_RETENTION_DAYS:-90}
/usr/local/bin/prune-archive.sh /srv/ftp/logs "$days"
( while sleep 86400; do /usr/local/bin/prune-archive.sh /srv/ftp/logs "$days" || true; done ) &
exec /usr/sbin/vsftpd "$conf"
