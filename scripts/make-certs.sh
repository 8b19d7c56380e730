#!/usr/bin/env bash
# Makes a private CA and one certificate for the daemons, signed by it, for
# paramd's TLS (README, "Security"). Every daemon can present the same
# certificate, as a server and, under mutual TLS, as a client; its names are
# the addresses clients dial.
#   scripts/make-certs.sh OUT_DIR [NAME...]
# NAME: an IP address or DNS name the daemons are reached at (default:
# 127.0.0.1 localhost). Writes OUT_DIR/ca.crt, ca.key, node.crt, node.key
# (keys readable by the owner only). An existing CA in OUT_DIR is reused.
set -euo pipefail

out=${1:?usage: make-certs.sh OUT_DIR [NAME...]}
shift
names=("$@")
((${#names[@]})) || names=(127.0.0.1 localhost)
san=""
for name in "${names[@]}"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
    san+="${san:+,}IP:$name"
  else
    san+="${san:+,}DNS:$name"
  fi
done

mkdir -p "$out"
cd "$out"
umask 077
curve=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
if [ ! -s ca.crt ] || [ ! -s ca.key ]; then
  openssl req -x509 "${curve[@]}" -keyout ca.key -out ca.crt -days 825 \
    -subj "/CN=paramd CA" 2>/dev/null
fi
openssl req "${curve[@]}" -keyout node.key -out node.csr \
  -subj "/CN=paramd node" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" \
  >node.ext
openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -out node.crt -days 825 -extfile node.ext 2>/dev/null
rm -f node.csr node.ext ca.srl
chmod 644 ca.crt node.crt
echo "make-certs: $out/{ca.crt,node.crt,node.key} for $san"
