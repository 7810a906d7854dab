# Sourced by the proxy's integration tests after lib.sh: a scratch
# directory, background processes stopped at the end, and the proxy's
# control socket.
P=$top/$O/bin/migrate-proxy
FLIP=$top/$O/bin/map-flip
work=$(mktemp -d /var/tmp/t-proxy.XXXXXX)
[ -n "${KEEP:-}" ] && echo "# work: $work"
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

control() {	# SOCKET COMMAND...: the proxy's answer
	python3 - "$@" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.connect(sys.argv[1])
	s.sendall(("\n".join(sys.argv[2:]) + "\n").encode())
	s.shutdown(socket.SHUT_WR)
	sys.stdout.write(s.makefile().read())
	EOF
}
wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
start_proxy() {	# CONFIG LOG PORT: its log shown when it does not listen
	"$P" -c "$1" >>"$2" 2>&1 &
	pids="$pids $!"
	wait_port "$3" && return 0
	echo "#   the proxy does not listen on $3; its log:"
	tail -n 20 "$2" | sed 's/^/#   /'
	return 1
}
flat() {	# TEXT: on one line, for patterns across lines
	printf '%s\n' "$1" | tr '\n' ' '
}
# carol floods NOOPs through the proxy on PORT without reading, then reads
# after WAIT s (proxy-flood.py, output in $work/flood.out); in the
# background as $held, 2 s into the flood on return
flood() {	# PORT WAIT
	printf '%s\n' "$CAROL_PASSWORD" |
	    python3 "$top/tests/integration/proxy-flood.py" "$1" carol "$2" \
	    >"$work/flood.out" 2>&1 &
	held=$!
	for _ in $(seq 50); do
		grep -q flooding "$work/flood.out" && break
		sleep 0.1
	done
	sleep 2
}
