# Sourced by the deploy tests: a Docker engine for their run.
#   ensure_docker LOG_DIR   installs docker.io, docker-compose and debootstrap
#                           if missing and starts dockerd if none answers
#   stop_docker             stops the dockerd that ensure_docker started
# Calls Debian's docker CLI, whatever else is first on PATH.
docker() { /usr/bin/docker "$@"; }
dockerd_pid=

ensure_docker() {
  local need=()
  [ -x /usr/bin/docker ] || need+=(docker.io)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  if ((${#need[@]})); then
    echo "engine: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  docker info >/dev/null 2>&1 && return 0
  echo "engine: starting dockerd"
  /usr/sbin/dockerd --storage-driver=overlay2 >"$1/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "engine: dockerd did not start; see $1/dockerd.log" >&2
  return 1
}

stop_docker() {
  [ -n "$dockerd_pid" ] || return 0
  kill "$dockerd_pid" 2>/dev/null || true
  wait "$dockerd_pid" 2>/dev/null || true
  dockerd_pid=
}
