# dav-pull --files and dav-push --files between two WebDAV file trees
# served by nginx (its dav module, and dav-ext for PROPFIND), checked on
# the disk behind them with diff -r: nested directories, a UTF-8 name, an
# empty file, a 1 MB binary; a rerun sends nothing; a delta (changed,
# added, a file and a directory deleted); a wrong password.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/dav-pull
PUSH=$top/$O/bin/dav-push
work=$(mktemp -d /var/tmp/t-dav-files.XXXXXX)
chmod 755 "$work"
SRC_PORT=28180 DST_PORT=28181
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")"; sleep 0.2; rm -rf "$work"' EXIT

mkdir -p "$work/src/Projects/Älter/deep" "$work/dst" "$work/tmp"
printf 'hello\r\n' >"$work/src/Projects/notes.txt"
: >"$work/src/empty"
head -c 1048576 /dev/urandom >"$work/src/Projects/Älter/deep/blob.bin"
printf 'ü' >"$work/src/Projects/Älter/résumé é.txt"
printf 'alice:{PLAIN}secret\n' >"$work/htpasswd"
chmod -R a+rwX "$work"
server() {	# PORT ROOT
	cat <<EOT
    server {
        listen 127.0.0.1:$1;
        root $2;
        auth_basic "dav"; auth_basic_user_file $work/htpasswd;
        dav_methods PUT DELETE MKCOL; dav_ext_methods PROPFIND OPTIONS;
        create_full_put_path on; client_max_body_size 0;
    }
EOT
}
cat >"$work/nginx.conf" <<EOT
load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 64; }
http {
    client_body_temp_path $work/tmp;
    access_log off;
$(server $SRC_PORT "$work/src")
$(server $DST_PORT "$work/dst")
}
EOT
nginx -c "$work/nginx.conf" -p "$work"
for i in $(seq 50); do
	(exec 3<>/dev/tcp/127.0.0.1/$DST_PORT) 2>/dev/null && break
	sleep 0.1
done

pull() {
	printf 'password=%s\n\n' "${PW:-secret}" | "$PULL" --files \
	    --url "http://127.0.0.1:$SRC_PORT/" --allow-plaintext --user alice --archive "$work/a" \
	    >"$work/out" 2>"$work/err"
}
push() {
	printf 'password=%s\n\n' "${PW:-secret}" | "$PUSH" --files \
	    --url "http://127.0.0.1:$DST_PORT/" --allow-plaintext --user alice --archive "$work/a" \
	    >"$work/out" 2>"$work/err"
}
done_field() { grep '"event":"done"' "$work/out" | jq -r ".$1"; }
same() { diff -r "$work/src" "$work/dst" >"$work/diff" 2>&1; }

pull
is "$?" 0 "dav-pull --files walks nginx's tree"
is "$(done_field files) $(done_field fetched)" "4 4" "four files, each fetched"
push
is "$?" 0 "dav-push --files writes the tree to the other server"
is "$(done_field pushed) $(done_field differences)" "4 0" \
    "the four files sent (their three directories made), read back equal"
same
is "$?" 0 "diff -r: the trees on disk are the same, byte for byte, names included"
push
is "$(done_field pushed) $(done_field unchanged)" "0 7" \
    "a rerun sends nothing (seven entries unchanged)"

sleep 1	# a change must show in the time nginx gives (seconds)
printf 'changed\r\n' >"$work/src/Projects/notes.txt"
printf 'new' >"$work/src/Projects/new.txt"
rm "$work/src/empty"
rm -r "$work/src/Projects/Älter/deep"
pull
is "$(done_field fetched) $(done_field deleted)" "2 3" \
    "the delta: two fetched, a file and a directory (with its file) deleted"
push
is "$?" 0 "the delta push"
same
is "$?" 0 "diff -r: the same trees again"

PW=wrong pull
is "$?" 77 "a wrong password: 77"

done_testing
