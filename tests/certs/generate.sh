#!/usr/bin/env bash
# Regenerates the test certificates in this directory (already checked in; they are valid
# until 2126): a CA, a server certificate for localhost / 127.0.0.1 and a client
# certificate, all ECDSA P-256, signed by the CA; and a second CA with its own server
# certificate (ca2, server2: certificate rotation on reload). Test material only: the
# keys are public.
set -euo pipefail
cd "$(dirname "$0")"
days=36500
sign() { # name, subject, extensions
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "$2"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "${CA:-ca}.pem" -CAkey "${CA:-ca}.key" -set_serial "0x$(openssl rand -hex 8)" \
    -out "$1.pem" -days "$days" -extfile "$1.ext"
  rm "$1.csr" "$1.ext"
}
make_ca() { # name, subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.pem" -days "$days" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
make_ca ca "/CN=rnats test CA"
sign server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
sign client "/CN=rnats test client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
# The second CA and its server certificate.
make_ca ca2 "/CN=rnats test CA 2"
CA=ca2 sign server2 "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
