# shellcheck shell=bash
# Sourced by the stack's own entrypoints (docker/dagster, docker/vsftpd, docker/mysql): the
# convention of the platform's settings (docs/deploy.md section 2.1) for programs that read a
# secret from their environment only. For a variable X, X_FILE names a file (a compose secret,
# /run/secrets/<name>) whose content, trailing newlines (\n, \r) stripped as the platform's Python
# settings do (shutter_assets/lib/settings.py), becomes X; X and X_FILE both
# set is an error; X_FILE is removed once read, so a program reading X_FILE itself never sees both.

# secret_from_file X: export X from the file named by X_FILE, if X_FILE is set.
secret_from_file() {
  local name=$1
  local file_var="${name}_FILE"
  local file=${!file_var:-}
  [ -n "$file" ] || return 0
  if [ -n "${!name:-}" ]; then
    echo "both $name and $file_var are set: keep one (docs/deploy.md, section 2.1)" >&2
    return 1
  fi
  if [ ! -f "$file" ] || [ ! -r "$file" ]; then
    echo "$file_var=$file is not a readable file (docs/deploy.md, section 2.1)" >&2
    return 1
  fi
  local value
  value=$(cat -- "$file" && printf x)  # the x keeps trailing newlines from $(...)
  value=${value%x}
  while [[ $value == *$'\n' || $value == *$'\r' ]]; do value=${value%?}; done
  export "$name=$value"
  unset "$file_var"
}
