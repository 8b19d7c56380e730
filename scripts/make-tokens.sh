#!/usr/bin/env bash
# Makes one random bearer token per role and the list the daemons accept
# (README, "Security"):
#   scripts/make-tokens.sh OUT_DIR
# Writes OUT_DIR/worker.token, server.token, admin.token (one token each,
# for the daemons that present it) and OUT_DIR/tokens (the accepted list,
# "<role> <token>" per line, for the coordinator and the servers), all
# readable by the owner only. To rotate: add a new token to `tokens`, send
# SIGHUP to the coordinator and servers, hand out the new token, then
# remove the old line and send SIGHUP again.
set -euo pipefail

out=${1:?usage: make-tokens.sh OUT_DIR}
mkdir -p "$out"
umask 077
: >"$out/tokens.new"
for role in worker server admin; do
  token=$(openssl rand -hex 32)
  printf '%s\n' "$token" >"$out/$role.token"
  printf '%s %s\n' "$role" "$token" >>"$out/tokens.new"
done
mv "$out/tokens.new" "$out/tokens"
echo "make-tokens: $out/{tokens,worker.token,server.token,admin.token}"
