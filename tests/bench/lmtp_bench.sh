#!/usr/bin/env bash
# Sustained LMTP delivery throughput and peak RSS: cased next to Dovecot's
# LMTP server (Maildir, default fsync), in the same run, with postfix's
# smtp-source as the client. Usage: tests/bench/lmtp_bench.sh [build-dir]
# MESSAGES (default 2000), SIZES (bytes, default "4096 65536") and SESSIONS
# (default "1 4 16") narrow a run.
# Needs: dovecot-lmtpd, postfix (smtp-source), /usr/bin/time.
set -euo pipefail
build=${1:-build/release}
cased_bin=$(realpath "$build/cased")
messages=${MESSAGES:-2000}
work=$(mktemp -d /tmp/cased-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
peak_rss_kb() { awk '/VmHWM/ {print $2}' /proc/$1/status; }

start_cased() {
  local dir=$work/cased-$1; mkdir -p "$dir"
  port=$(free_port)
  printf '[case]\ndatabase = "%s/cases.db"\nalias = "security@example.com"\n[lmtp]\nlisten = ["127.0.0.1:%s"]\n[ack]\nenabled = false\n' \
    "$dir" "$port" > "$dir/cased.toml"
  "$cased_bin" --config "$dir/cased.toml" 2>"$dir/log" & server=$!; pids+=($server)
  wait_port "$port"
}

start_dovecot() {
  local dir=$work/dovecot-$1; mkdir -p "$dir/run" "$dir/mail"
  # Mail must not belong to root: deliver as dovecot's own system user.
  chmod 755 "$work" "$dir"; chown dovecot:dovecot "$dir/mail"
  port=$(free_port)
  cat > "$dir/dovecot.conf" <<CONF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/log
protocols = lmtp
ssl = no
listen = 127.0.0.1
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 0
mail_location = maildir:$dir/mail/%u
userdb {
  driver = static
  args = uid=$(id -u dovecot) gid=$(id -g dovecot) home=$dir/mail/%u
}
passdb {
  driver = static
  args = nopassword=y
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $port
  }
}
service anvil {
  chroot =
}
service stats {
  chroot =
}
CONF
  /usr/sbin/dovecot -F -c "$dir/dovecot.conf" & server=$!; pids+=($server)
  wait_port "$port"
}

run() {  # $1 server kind, $2 size, $3 sessions
  local start end rate
  start=$(date +%s.%N)
  smtp-source -L -s "$3" -m "$messages" -l "$2" -f rita@example.org -t security@example.com "127.0.0.1:$port" >&2
  end=$(date +%s.%N)
  rate=$(python3 -c "print(round($messages / ($end - $start)))")
  echo "$rate"
}

printf '| size | sessions | cased msg/s | dovecot msg/s | cased peak RSS | dovecot lmtp peak RSS |\n|---|---|---|---|---|---|\n'
for size in ${SIZES:-4096 65536}; do
  for sessions in ${SESSIONS:-1 4 16}; do
    start_cased "$size-$sessions"; c_server=$server
    c_rate=$(run cased "$size" "$sessions"); c_rss=$(peak_rss_kb "$c_server")
    kill -TERM "$c_server"; wait "$c_server" || true
    stored=$(sqlite3 "$work/cased-$size-$sessions/cases.db" 'SELECT count(*) FROM messages')
    [ "$stored" -eq "$messages" ] || { echo "cased stored $stored of $messages" >&2; exit 1; }
    start_dovecot "$size-$sessions"; d_server=$server
    d_rate=$(run dovecot "$size" "$sessions")
    delivered=$(find "$work/dovecot-$size-$sessions/mail" -type f -path '*/new/*' | wc -l)
    [ "$delivered" -eq "$messages" ] || { echo "dovecot delivered $delivered of $messages" >&2; exit 1; }
    d_rss=$(for p in $(pgrep -f "dovecot/lmtp" || true); do peak_rss_kb "$p"; done | sort -n | tail -1)
    kill -TERM "$d_server"; wait "$d_server" || true
    printf '| %s KB | %s | %s | %s | %s MB | %s MB |\n' "$((size / 1024))" "$sessions" "$c_rate" "$d_rate" \
      "$((c_rss / 1024))" "$(( ${d_rss:-0} / 1024 ))"
  done
done
