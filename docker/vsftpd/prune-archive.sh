#!/bin/bash
# Retention of the drop's archive folder: files the platform loaded and moved to archive/
# (LOGS_ARCHIVE=1) are deleted FTP_ARCHIVE_RETENTION_DAYS days after they were archived (the
# move keeps the upload's mtime, so the age is that of the upload); emptied sub-folders go too.
# Only archive/ is touched: a file never loaded stays in the drop. 0 disables the pruning.
# The entrypoint runs it at start and then daily; tests/test_stack_retention.py runs it natively.
#   prune-archive.sh <logs dir> <days>
set -euo pipefail
logs=${1:?usage: prune-archive.sh <logs dir> <days>}
days=${2:?usage: prune-archive.sh <logs dir> <days>}
case "$days" in '' | *[!0-9]*) echo "FTP_ARCHIVE_RETENTION_DAYS=$days is not a whole number of days" >&2; exit 2 ;; esac
archive="$logs/archive"
[ "$days" -gt 0 ] && [ -d "$archive" ] || exit 0
removed=$(find "$archive" -type f -mtime "+$((days - 1))" -print -delete | wc -l)
find "$archive" -mindepth 1 -type d -empty -delete
echo "archive retention: $removed file(s) older than $days day(s) removed from $archive"
