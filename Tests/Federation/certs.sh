#!/usr/bin/env bash
# Generates the federation tests' PKI with openssl:
#
#   certs.sh DIR
#
#   DIR/ca.pem, DIR/ca.key                     a private CA ("Parley Federation Test CA")
#   DIR/a.fed.test.{crt,key}, DIR/b.fed.test.{crt,key}
#                                              issued by the CA for their own name
#   DIR/c.fed.test.{crt,key}                   SELF-SIGNED for c.fed.test (not from the CA)
#   DIR/d.fed.test.{crt,key}                   issued by the CA, but for other.fed.test (wrong name)
#   DIR/*.chain.pem                            certificate followed by its key (for ejabberd)
#
# Every certificate carries the name as a subjectAltName dNSName (RFC 6125 DNS-ID) and as the CN.
# Idempotent: does nothing when DIR/.complete exists.
set -euo pipefail

dir="${1:?usage: certs.sh DIR}"
mkdir -p "$dir"
[[ -f "$dir/.complete" ]] && exit 0
cd "$dir"
umask 077

days=30
newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

ext_file() {  # name -> extension file for a server certificate
    cat >"$1.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:$1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# The CA.
newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/O=Parley Tests/CN=Parley Federation Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out ca.pem

issue() {  # file stem, name in the certificate
    local stem="$1" name="$2"
    newkey "$stem.key"
    openssl req -new -key "$stem.key" -subj "/O=Parley Tests/CN=$name" -out "$stem.csr"
    ext_file "$name"
    openssl x509 -req -in "$stem.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
        -extfile "$name.ext" -out "$stem.crt" 2>/dev/null
    rm -f "$stem.csr" "$name.ext"
}

issue a.fed.test a.fed.test
issue b.fed.test b.fed.test
issue d.fed.test other.fed.test   # a valid CA-issued certificate, but for another domain

# c.fed.test: self-signed, right name, not from the CA.
newkey c.fed.test.key
openssl req -x509 -new -key c.fed.test.key -sha256 -days "$days" -subj "/O=Self Signed/CN=c.fed.test" \
    -addext "subjectAltName=DNS:c.fed.test" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "extendedKeyUsage=serverAuth,clientAuth" -out c.fed.test.crt

for d in a b c d; do
    cat "$d.fed.test.crt" "$d.fed.test.key" >"$d.fed.test.chain.pem"
done
# Servers run as root here, but keep the keys private anyway; certificates and the CA are public.
chmod 600 ./*.key ./*.chain.pem
chmod 644 ./*.crt ca.pem

openssl verify -CAfile ca.pem a.fed.test.crt b.fed.test.crt d.fed.test.crt >/dev/null
if openssl verify -CAfile ca.pem c.fed.test.crt >/dev/null 2>&1; then
    echo "certs.sh: c.fed.test must not verify against the CA" >&2
    exit 1
fi
touch .complete
