# Sourced by the tools/package scripts.

# need SCRIPT NAME:PACKAGE...: installs (apt-get) the Debian packages whose command, or file if NAME is a
# path, is missing, saying so on stderr as SCRIPT.
need() {
  local script=$1 t missing=(); shift
  for t; do command -v "${t%%:*}" >/dev/null || [ -e "${t%%:*}" ] || missing+=("${t#*:}"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$script: installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
