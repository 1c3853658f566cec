#!/bin/sh
# Container health (docker/Dockerfile HEALTHCHECK, compose.yaml): healthy when every port this
# container serves answers GET /readyz with 200 — its databases answer and its copies can answer.
# Plain sh and curl: no Bun process is started for a probe. The ports are the process's own:
# <MODULE>_PORT for each module of MODULES (default: all), else the module's default port
# (test/compose.test.ts holds these defaults to the modules' own).
set -eu
ports=""
for module in $(echo "${MODULES:-item,alarm,user,account,feed,notification,stats}" | tr ',' ' '); do
  variable="$(echo "$module" | tr '[:lower:]' '[:upper:]')_PORT"
  eval "port=\${$variable:-}"
  if [ -z "$port" ]; then
    case "$module" in
      item) port=5001 ;;
      alarm) port=6001 ;;
      user) port=7001 ;;
      account | feed | notification | stats) port=8000 ;;
      *) echo "unhealthy: unknown module $module" >&2; exit 1 ;;
    esac
  fi
  case " $ports " in *" $port "*) ;; *) ports="$ports $port" ;; esac
done
for port in $ports; do
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz" || { echo "unhealthy: port $port is not ready" >&2; exit 1; }
done
