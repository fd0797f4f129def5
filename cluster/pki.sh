#!/usr/bin/env bash
# cluster/pki.sh: a throwaway certificate authority for one bring-up, the
# serving and client certificates signed by it, and a kubeconfig per
# client. up.sh makes them anew each time, so that nothing expires between
# runs and no key outlives its cluster.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rm -rf "$PKI" && mkdir -p "$PKI" && cd "$PKI"
umask 077

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"; }
key ca
openssl req -x509 -new -key ca.key -out ca.crt -days 7 -subj /CN=bottle-test-cluster-ca 2>/dev/null

# sign NAME SUBJECT EXTENSIONS: NAME.key and NAME.crt, signed by the CA.
sign() {
	key "$1"
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
	printf '%s\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm "$1.csr" "$1.ext"
}
sign apiserver /CN=kube-apiserver "subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$NODE_IP,IP:$SERVICE_IP
extendedKeyUsage=serverAuth"
# The API server checks the kubelet's certificate (--kubelet-certificate-authority)
# when it connects for exec, attach and logs: at the node address.
sign kubelet-serving "/O=system:nodes/CN=system:node:$NODE" "subjectAltName=DNS:$NODE,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP
extendedKeyUsage=serverAuth"
# Clients: the groups are what RBAC and the Node authorizer grant on.
sign admin /O=system:masters/CN=bottle-test-admin extendedKeyUsage=clientAuth
sign apiserver-kubelet-client /O=system:masters/CN=kube-apiserver-kubelet-client extendedKeyUsage=clientAuth
sign kubelet "/O=system:nodes/CN=system:node:$NODE" extendedKeyUsage=clientAuth
sign controller-manager /CN=system:kube-controller-manager extendedKeyUsage=clientAuth
sign scheduler /CN=system:kube-scheduler extendedKeyUsage=clientAuth
# The service accounts' tokens are signed with RSA, which every verifier accepts.
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null

# The kubeconfigs are JSON, which is YAML to kubectl and client-go and
# plain JSON to the tests' helpers (cluster_test.go), which need no YAML
# parser; the certificates are inline, so that a kubeconfig stands alone.
b64() { base64 -w0 "$1"; }
for name in admin kubelet controller-manager scheduler; do
	printf '{"apiVersion":"v1","kind":"Config","current-context":"bottle-test",
"clusters":[{"name":"bottle-test","cluster":{"server":"https://127.0.0.1:6443","certificate-authority-data":"%s"}}],
"users":[{"name":"%s","user":{"client-certificate-data":"%s","client-key-data":"%s"}}],
"contexts":[{"name":"bottle-test","context":{"cluster":"bottle-test","user":"%s","namespace":"default"}}]}\n' \
		"$(b64 ca.crt)" "$name" "$(b64 "$name.crt")" "$(b64 "$name.key")" "$name" >"$name.kubeconfig"
done
