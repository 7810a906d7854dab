# The world itself: a second start is harmless, the corpus is
# deterministic from its seed, and status tells the truth.
. "$(dirname "$0")/lib.sh"

pids() {
	{
		cat "$WORLD_DIR/dovecot/run/master.pid" \
		    "$WORLD_DIR/cyrus/run/master.pid" \
		    "$WORLD_DIR/radicale/radicale.pid"
		head -n1 "$WORLD_DIR/pg/data/postmaster.pid"
	} 2>/dev/null | tr '\n' ' '
}

before=$(pids)
MIGRATE_SKIP_DEPS=1 "$top/tests/world/world" start 2>/dev/null
is "$?" 0 "a second start succeeds"
is "$(pids)" "$before" "and leaves the running servers alone"
out=$("$top/tests/world/world" status)
is "$?" 0 "status says all runs"
is "$(printf '%s\n' "$out" | grep -c ': running')" 4 \
    "four servers: Dovecot, Cyrus, Radicale, PostgreSQL"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mk=$WORLD_DIR/bin/mkcorpus
"$mk" -s 7 -u x@example.org -n 120 -o "$tmp/a" &&
"$mk" -s 7 -u x@example.org -n 120 -o "$tmp/b" &&
"$mk" -s 8 -u x@example.org -n 120 -o "$tmp/c"
is "$?" 0 "mkcorpus runs"
if cmp -s "$tmp/a/manifest.tsv" "$tmp/b/manifest.tsv" &&
    diff -r "$tmp/a" "$tmp/b" >/dev/null; then
	ok "the same seed makes the same corpus"
else
	not_ok "the same seed makes the same corpus"
fi
if cmp -s "$tmp/a/manifest.tsv" "$tmp/c/manifest.tsv"; then
	not_ok "another seed makes another corpus"
else
	ok "another seed makes another corpus"
fi
m=$tmp/a/manifest.tsv
like "$(cut -f5 "$m" | sort -n | head -1)" '^[0-9]+$' "sizes are recorded"
is "$(grep -c $'\t\\\\Seen' "$m" | sed 's/^0$//; s/.*/yes/')" yes "some messages are \\Seen"
like "$(cut -f3 "$m" | sort -u | tr '\n' ' ')" 'Project-X' "custom keywords occur"
like "$(cut -f4 "$m" | sort | head -1)" '^19(80|9)' "old internal dates occur"
like "$(grep -c 'Message-ID: <duplicate@' -r "$tmp/a/maildir" | awk -F: '{s+=$2} END {print s}')" \
    '^([2-9]|[1-9][0-9]+)$' "duplicate Message-IDs occur"
# the big message and 0-byte bodies, in the world's own corpus
big=$(awk -F '\t' '$5 > 20000000' "$ALICE_CORPUS/manifest.tsv" | wc -l)
is "$big" 1 "alice's corpus holds a 20 MB message"
n_empty=0
while IFS= read -r f; do
	[ "$(tail -n 1 "$f" | wc -c)" = 1 ] &&
	    tail -n 2 "$f" | head -n 1 | grep -qx 'Content-Type: text/plain' &&
	    n_empty=$((n_empty + 1))
done <<EOT
$(grep -rlx 'Content-Type: text/plain' "$ALICE_CORPUS/maildir")
EOT
like "$n_empty" '^[1-9]' "some messages have a 0-byte body"

done_testing
