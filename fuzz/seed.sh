#!/bin/sh
# Seeds each fuzz target's corpus, fuzz/corpus/<target>/, from the recorded
# inputs in testdata/ (and a few inputs written here, where testdata has
# none), in the framing each target reads (see fuzz_targets/*.rs). Seeds are
# named seed-*, so running this again refreshes them and leaves whatever
# libFuzzer added alone. The corpus is not committed; fuzz/regressions/ is.
#
# Usage: fuzz/seed.sh [CORPUS_DIR]   (default: fuzz/corpus)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
testdata="$here/../testdata"
corpus=${1:-"$here/corpus"}

# seed TARGET NAME: stdin becomes TARGET's seed NAME.
seed() {
  mkdir -p "$corpus/$1"
  cat >"$corpus/$1/seed-$2"
}

# The body of a recorded HTTP response: after the head, one chunk's data
# for a chunked one (dockerd writes a list as one chunk).
http_body() {
  if grep -qi '^transfer-encoding: *chunked' "$1"; then
    sed '1,/^\r$/d' "$1" | sed '1d' | sed '/^\r$/,$d'
  else
    sed '1,/^\r$/d' "$1"
  fi
}

# Distinct recorded node processes (the others are copies of these).
node_pids="13260 13355 13568 14625"

# proc_net: byte 0 the table (0 tcp, 1 tcp6), bytes 1-2 the state mask (0: all).
for pid in $node_pids; do
  { printf '\000\000\000'; cat "$testdata/node/proc/$pid/net/tcp"; } | seed proc_net "tcp-$pid"
  { printf '\001\000\000'; cat "$testdata/node/proc/$pid/net/tcp6"; } | seed proc_net "tcp6-$pid"
done
{ printf '\000\000\000'; cat "$testdata/proc_net/tcp"; } | seed proc_net tcp
{ printf '\001\000\000'; cat "$testdata/proc_net/tcp6"; } | seed proc_net tcp6
# TIME_WAIT only (bit 6), and LISTEN only (bit 10).
{ printf '\000\100\000'; cat "$testdata/proc_net/tcp"; } | seed proc_net tcp-time-wait
{ printf '\001\000\004'; cat "$testdata/proc_net/tcp6"; } | seed proc_net tcp6-listen

# proc_pid: links, comm, a getdents64 buffer (".", "..", "3", "17"), status.
printf 'net:[4026531840]' | seed proc_pid ns-link
printf 'socket:[9222]' | seed proc_pid socket-link
for pid in $node_pids; do seed proc_pid "comm-$pid" <"$testdata/node/proc/$pid/comm"; done
{
  printf '\001\000\000\000\000\000\000\000\002\000\000\000\000\000\000\000\030\000\004.\000\000\000\000'
  printf '\001\000\000\000\000\000\000\000\002\000\000\000\000\000\000\000\030\000\004..\000\000\000'
  printf '\001\000\000\000\000\000\000\000\002\000\000\000\000\000\000\000\030\000\0103\000\000\000\000'
  printf '\001\000\000\000\000\000\000\000\002\000\000\000\000\000\000\000\030\000\01017\000\000\000'
} | seed proc_pid dirents
printf 'Name:\tcnetstat\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n' |
  seed proc_pid status

# sockstat: sockstat, a NUL, sockstat6.
for kind in busy empty; do
  { cat "$testdata/sockstat/$kind-sockstat"; printf '\000'; cat "$testdata/sockstat/$kind-sockstat6"; } |
    seed sockstat "$kind"
done

for f in "$testdata"/mountinfo/*.mountinfo; do seed mountinfo "$(basename "$f")" <"$f"; done

for f in "$testdata"/cgroup/*.txt; do seed cgroup "$(basename "$f")" <"$f"; done
for pid in $node_pids; do seed cgroup "node-$pid" <"$testdata/node/proc/$pid/cgroup"; done

for f in "$testdata"/oci/*.json; do seed oci "$(basename "$f")" <"$f"; done

# kubelet_logs and ids: the names the unit tests use.
id=423f66c54536da89e0a167ccd93719299bcebf99a7e948f6fa02640116f90f04
uid=193c20d9-34af-4b69-b119-2e75aa9023d1
printf 'kube-system_coredns-5d78c9869d-9xk2p_%s' "$uid" | seed kubelet_logs pod-dir
printf 'kube-system_etcd-node1.example.com_6c1f6b9a0e2d4c53a8d2d0b8f5e7c911' | seed kubelet_logs static-pod-dir
printf 'coredns-5d78c9869d-9xk2p_kube-system_coredns-%s.log' "$id" | seed kubelet_logs link
printf '/var/log/pods/kube-system_coredns-5d78c9869d-9xk2p_%s/coredns/12.log' "$uid" | seed kubelet_logs path
printf '%s' "$id" | seed ids container-id
printf '%s' "$uid" | seed ids pod-uid
printf '6c1f6b9a0e2d4c53a8d2d0b8f5e7c911' | seed ids static-pod-uid

# sock_diag: byte 0 the dump (0: TCP, 1: UDP), then one datagram.
for f in "$testdata"/sock_diag/dump-*.bin; do
  { printf '\000'; cat "$f"; } | seed sock_diag "$(basename "$f")"
done
for f in "$testdata"/sock_diag/udp*.bin; do
  { printf '\001'; cat "$f"; } | seed sock_diag "$(basename "$f")"
done

for f in "$testdata"/snapshots/*.json; do seed record "$(basename "$f")" <"$f"; done

# docker_containers: byte 0 the piece size (0: the body whole), then the body.
for f in containers-small containers-http10 containers-chunked; do
  { printf '\000'; http_body "$testdata/docker/$f.http"; } | seed docker_containers "$f"
done
{ printf '\007'; http_body "$testdata/node/docker-containers.http"; } | seed docker_containers node

# http: byte 0 the number of chunk sizes, byte 1 the size cap (0: 1 MiB),
# the chunk sizes (0: an interrupted read), then the response.
for f in "$testdata"/docker/*.http "$testdata"/node/*.http; do
  name=$(basename "$(dirname "$f")")-$(basename "$f" .http)
  { printf '\000\000'; cat "$f"; } | seed http "$name"
  { printf '\003\000\001\000\007'; cat "$f"; } | seed http "$name-chunks"
done
{ printf '\000\020'; cat "$testdata/docker/containers-small.http"; } | seed http capped

for text in 10.0.0.5 10.0.0.0/8 10.0.0.5:443 :443 '[2001:db8::/32]:443' '[::1]:80' \
  ::ffff:10.0.0.5 ::/0 fe80::1 svc/kube-system/kube-dns service/shop/cart pod/shop/db-0 node/node-2; do
  printf '%s' "$text" | seed endpoint_filter "$(printf '%s' "$text" | tr -c 'a-zA-Z0-9.' _)"
done

for text in time-wait TIME_WAIT established,listen connected synchronized all bucket,big \
  syn-recv 'close-wait, last-ack'; do
  printf '%s' "$text" | seed cli_states "$(printf '%s' "$text" | tr -c 'a-zA-Z0-9' _)"
done

printf 'nginx' | seed escape plain
printf 'caf\303\251 \345\220\215\345\211\215 \360\237\232\200' | seed escape utf8
printf 'evil\033[2J\r\n\ttab\\x1b' | seed escape controls
printf 'abc\342\200\256cba\342\201\246\357\273\277\302\255' | seed escape bidi-bom-shy
printf 'tag\363\240\200\201\363\240\201\277' | seed escape tags

# The netlink targets: one recorded datagram each.
for f in "$testdata"/conntrack/*.bin; do seed conntrack_entries "$(basename "$f")" <"$f"; done
for f in "$testdata"/nftables/*.bin; do seed nftables_rules "$(basename "$f")" <"$f"; done
for f in "$testdata"/rtnl/*.bin; do seed rtnl_addresses "$(basename "$f")" <"$f"; done

seed nf_conntrack_stat recorded <"$testdata/proc_net/nf_conntrack_stat"
for f in "$testdata"/sysctl/*/net.*; do
  seed sysctl "$(basename "$(dirname "$f")")-$(basename "$f")" <"$f"
done

# kubeconfig: the kubeconfigs of testdata/kube, good and broken, and the
# hostile shapes its unit tests build: a long line, deep flow nesting.
for f in "$testdata"/kube/*.yaml "$testdata"/kube/*.conf "$testdata"/kube/*.kubeconfig \
  "$testdata"/kube/kind.json; do
  seed kubeconfig "$(basename "$f")" <"$f"
done
{ printf 'current-context: '; head -c 4000 /dev/zero | tr '\000' a; printf '\n'; } |
  seed kubeconfig long-line
{ printf 'clusters: '; head -c 2000 /dev/zero | tr '\000' '['; printf '\n'; } |
  seed kubeconfig deep-flow

echo "seeded $(find "$corpus" -name 'seed-*' | wc -l) inputs in $corpus"
