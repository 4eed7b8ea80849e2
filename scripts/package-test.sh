#!/usr/bin/env bash
# The Debian package's check. It installs and purges the package on this machine, so it needs
# root or sudo, and refuses to run where tvsignin is installed already.
#
#  1. builds the package (scripts/package.sh) and installs it with dpkg;
#  2. `systemd-analyze verify` and `security` judge the installed unit;
#  3. the settings as installed refuse to start (no provider, DEMO = false), naming the key;
#  4. as an operator would: the provider in /etc/tvsignin (the local test provider), then
#     `dpkg -i` again keeps those edits;
#  5. starts the installed binary as the unit does (its command line, environment file and
#     open-file limit; an unprivileged user without capabilities; an unrelated working
#     directory), runs end2end/tests/installed.spec.ts against it in Chromium (the page
#     hydrates, a TV pairs to signed-in) and stops it with SIGTERM;
#  6. the same under a real systemd: boots this machine's own root in a throw-away container
#     (systemd-nspawn; its writes go to a tmpfs overlay, a private network), starts
#     the unit with `systemctl`, checks its sandbox, runs the same spec, kills it to see it
#     restarted, stops it, and sees that bad settings stop it for good;
#  7. `dpkg -r` removes the program and keeps the operator's settings; `dpkg -P` removes
#     them too and leaves nothing behind.
#
# Usage: scripts/package-test.sh [--no-build]   (--no-build: package the release build already there)
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

UNIT=/usr/lib/systemd/system/tvsignin.service
SETTINGS=/etc/tvsignin/tvsignin.toml
SECRETS=/etc/tvsignin/tvsignin.env

status="$(dpkg-query -W -f='${db:Status-Status}' tvsignin 2>/dev/null || true)"
if [ -n "$status" ] && [ "$status" != not-installed ]; then
  fail "tvsignin is installed on this machine ($status); this check installs and purges it, so remove it first (dpkg -P tvsignin)"
fi

# Chromium, Playwright, the local provider's packages, systemd-analyze, systemd-nspawn.
scripts/setup.sh test
scripts/package.sh "$@"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
deb="target/debian/tvsignin_${version}-1_$(dpkg --print-architecture).deb"

scratch="$(mktemp -d /tmp/tvsignin-package-test.XXXXXX)"
chmod 755 "$scratch"
server_pid=""
idp_pid=""
container_pid=""
installed_by_us=0
cleanup() {
  for pid in "$server_pid" "$idp_pid" "$container_pid"; do
    [ -n "$pid" ] && $SUDO kill "$pid" 2>/dev/null || true
  done
  [ -n "$container_pid" ] && wait "$container_pid" 2>/dev/null || true
  if [ "$installed_by_us" = 1 ]; then
    $SUDO dpkg -P tvsignin >/dev/null 2>&1 || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# Starts the local provider on 127.0.0.1:$1 (0: any port), here or with "container" as $2 in
# the container's network; sets idp_pid and issuer.
start_idp() {
  local port="$1" where="${2:-here}" ready
  if [ "$where" = container ]; then
    exec {idp_out}< <(exec $SUDO nsenter --net="/proc/$leader/ns/net" \
      setpriv --reuid="$(id -u)" --regid="$(id -g)" --init-groups \
      env IDP_PORT="$port" IDP_INTERVAL=1 node end2end/idp/server.mjs 2>"$scratch/idp.log")
  else
    exec {idp_out}< <(IDP_PORT="$port" IDP_INTERVAL=1 exec node end2end/idp/server.mjs 2>"$scratch/idp.log")
  fi
  idp_pid=$!
  IFS= read -r -t 15 ready <&"$idp_out" || fail "the local provider did not start: $(cat "$scratch/idp.log")"
  issuer="$(node -e 'console.log(JSON.parse(process.argv[1]).issuer)' "$ready")"
}

stop_idp() {
  $SUDO kill "$idp_pid"
  wait "$idp_pid" 2>/dev/null || true
  idp_pid=""
}

# ---------------------------------------------------------------------------------------------
step "dpkg -i $deb"
installed_by_us=1
$SUDO dpkg -i "$deb"
for path in /usr/bin/tvsignin /usr/share/tvsignin/hash.txt /usr/share/tvsignin/site/favicon.ico "$UNIT" "$SETTINGS" "$SECRETS"; do
  [ -e "$path" ] || fail "the package did not install $path"
done
ls /usr/share/tvsignin/site/pkg/tvsignin.*.wasm.br >/dev/null || fail "no precompressed WebAssembly in /usr/share/tvsignin/site/pkg"
[ "$($SUDO stat -c '%a %U' "$SECRETS")" = "600 root" ] || fail "$SECRETS must be mode 600, owned by root"
conffiles="$(dpkg-query -W -f='${Conffiles}' tvsignin)"
for path in "$SETTINGS" "$SECRETS"; do
  grep -q " $path " <<<"$conffiles" || fail "$path is not a conffile"
done

step "tvsignin --version"
said="$(/usr/bin/tvsignin --version)"
echo "$said"
[ "$said" = "tvsignin $version" ] || fail "expected 'tvsignin $version'"

# ---------------------------------------------------------------------------------------------
step "systemd-analyze verify $UNIT"
# It also reports on the units this one names (network-online.target, ...): only lines
# about this unit count, and there must be none.
verify="$(cd "$scratch" && systemd-analyze verify "$UNIT" 2>&1)" || fail "systemd-analyze verify failed:
$verify"
if grep -i 'tvsignin' <<<"$verify"; then
  fail "systemd-analyze verify has something to say about the unit"
fi
echo "accepted"

step "systemd-analyze security --offline=yes --threshold=20 $UNIT (exposure at most 2.0)"
(cd "$scratch" && systemd-analyze security --offline=yes --threshold=20 --no-pager "$UNIT" | tail -n 1) \
  || fail "the unit's exposure is above 2.0"

# The unit's own words: command, environment file, open-file limit, stop timeout.
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
read -r -a exec_start <<<"$(unit_value ExecStart)"
env_file="$(unit_value EnvironmentFile)"
env_file="${env_file#-}"
unit_nofile="$(unit_value LimitNOFILE)"
stop_timeout="$(unit_value TimeoutStopSec)"
stop_timeout="${stop_timeout%s}"
[ "${exec_start[0]}" = /usr/bin/tvsignin ] || fail "unexpected ExecStart: ${exec_start[*]}"
# systemd sets the limit with a privilege this machine may lack: a container without
# CAP_SYS_RESOURCE cannot go above its own hard limit.
nofile="$unit_nofile"
if ! $SUDO prlimit --nofile="$nofile:$nofile" true 2>/dev/null; then
  nofile="$(ulimit -Hn)"
  echo "note: this machine cannot raise the open-file limit to the unit's $unit_nofile; using its hard limit $nofile"
fi

# Starts the installed binary as the unit does, as far as that goes without systemd: an
# unprivileged user with no capabilities and no way to gain any, the environment file read
# by root and handed over, the open-file limit, an empty working directory of its own.
# Called in a subshell (`&` or `$(...)`): exec makes the server this process.
start_as_unit() {
  local env_args=()
  if $SUDO test -f "$env_file"; then
    while IFS= read -r line; do
      case "$line" in '' | '#'*) continue ;; esac
      env_args+=("$line")
    done < <($SUDO cat "$env_file")
  fi
  cd "$scratch"
  exec $SUDO env -i PATH=/usr/bin:/bin "${env_args[@]}" \
    prlimit --nofile="$nofile:$nofile" \
    setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all \
    "${exec_start[@]}"
}

step "the settings as installed refuse to start: no provider, and DEMO = false"
set +e
refused="$(start_as_unit 2>&1)"
code=$?
set -e
echo "$refused"
[ "$code" = 2 ] || fail "expected exit code 2 (bad settings), got $code"
grep -q 'bad setting ISSUER: no provider is configured and DEMO=false' <<<"$refused" || fail "expected one line naming ISSUER"

# ---------------------------------------------------------------------------------------------
step "the local provider (end2end/idp/server.mjs)"
start_idp 0
echo "$issuer"
idp_port="${issuer##*:}"
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
app="http://127.0.0.1:$port"

step "as the operator: the provider in $SETTINGS, its secret in $SECRETS"
$SUDO tee -a "$SETTINGS" >/dev/null <<EOF

# This machine's provider.
[local]
ISSUER = "$issuer"
CLIENT_ID = "tv-basic"
LISTEN_ADDR = "127.0.0.1:$port"
PUBLIC_URL = "$app"
EOF
echo "CLIENT_SECRET=basic-secret" | $SUDO tee -a "$SECRETS" >/dev/null

step "dpkg -i again (an upgrade in place): the edits stay"
$SUDO dpkg -i "$deb" >/dev/null
grep -q "^ISSUER = \"$issuer\"" "$SETTINGS" || fail "reinstalling lost the edit to $SETTINGS"
$SUDO grep -q '^CLIENT_SECRET=basic-secret' "$SECRETS" || fail "reinstalling lost the edit to $SECRETS"
echo "kept"

# ---------------------------------------------------------------------------------------------
step "${exec_start[*]} (as nobody, from $scratch, LimitNOFILE=$nofile)"
start_as_unit >"$scratch/server.log" 2>&1 &
server_pid=$!
# Ready once it answers and has loaded the provider's discovery (asking /readyz before
# that would log its 503).
for _ in $(seq 1 150); do
  if curl -fsS "$app/healthz" >/dev/null 2>&1 && grep -q 'provider discovery loaded' "$scratch/server.log"; then
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || fail "the server stopped: $(cat "$scratch/server.log")"
  sleep 0.1
done
curl -fsS "$app/readyz" || fail "the server is not ready in 15 s: $(cat "$scratch/server.log")"
echo

step "npx playwright test tests/installed.spec.ts (TVSIGNIN_INSTALLED_URL=$app)"
(cd end2end && TVSIGNIN_INSTALLED_URL="$app" npx playwright test tests/installed.spec.ts)

step "graceful stop (SIGTERM; the unit allows ${stop_timeout} s)"
t0=$(date +%s%N)
$SUDO kill -TERM "$server_pid"
set +e
wait "$server_pid"
code=$?
set -e
server_pid=""
took_ms=$((($(date +%s%N) - t0) / 1000000))
echo "exit code $code after $took_ms ms"
[ "$code" = 0 ] || fail "expected exit code 0 after SIGTERM: $(tail -n 5 "$scratch/server.log")"
[ "$took_ms" -lt "$((stop_timeout * 1000))" ] || fail "the stop took longer than TimeoutStopSec"
grep -q 'shutting down' "$scratch/server.log" || fail "the server did not log its graceful stop"
# The package brings the compressed copies: the server found nothing to compress (and could
# not have written under /usr), and nothing went wrong.
if grep -E 'precompress|no browser files|WARN|ERROR' "$scratch/server.log"; then
  fail "the installed server logged the lines above"
fi
echo "its log:"
sed 's/^/    /' "$scratch/server.log"
stop_idp

# ---------------------------------------------------------------------------------------------
step "under systemd: this machine's root booted in a throw-away container (systemd-nspawn)"
# The root is the lower layer of an overlay whose writable layer is a tmpfs, in a mount
# namespace of its own: nothing the container does reaches this machine's disk. Its network
# is private, so the ports from above are free in there. The one change to the unit, if
# needed, is the open-file limit, through a drop-in as an operator would make it.
container="$scratch/container"
dropin=""
if [ "$nofile" != "$unit_nofile" ]; then
  dropin="mkdir -p $container/upper/etc/systemd/system/tvsignin.service.d
printf '[Service]\nLimitNOFILE=$nofile\n' > $container/upper/etc/systemd/system/tvsignin.service.d/limit.conf"
  echo "note: a drop-in sets LimitNOFILE=$nofile in there (see above)"
fi
cat >"$scratch/boot.sh" <<EOF
set -e
mkdir -p $container
mount -t tmpfs tmpfs $container
mkdir -p $container/upper $container/work $container/root
$dropin
mount -t overlay overlay -o lowerdir=/,upperdir=$container/upper,workdir=$container/work $container/root
exec systemd-nspawn --quiet --directory=$container/root --boot --private-network \\
  --machine=tvsignin-check --register=no --keep-unit --console=pipe --link-journal=no \\
  -- systemd.unit=basic.target
EOF
$SUDO unshare --mount --propagation private bash "$scratch/boot.sh" </dev/null >"$scratch/container.log" 2>&1 &
container_pid=$!
nspawn_pid="$container_pid"
leader=""
for _ in $(seq 1 100); do
  [ -n "$SUDO" ] && nspawn_pid="$(pgrep -P "$container_pid" | head -n 1 || true)"
  [ -n "$nspawn_pid" ] && leader="$(pgrep -P "$nspawn_pid" -x systemd | head -n 1 || true)"
  [ -n "$leader" ] && break
  kill -0 "$container_pid" 2>/dev/null || fail "the container did not start: $(cat "$scratch/container.log")"
  sleep 0.1
done
[ -n "$leader" ] || fail "the container did not start in 10 s: $(cat "$scratch/container.log")"
in_container() { $SUDO nsenter --target "$leader" --all "$@"; }
# Its network only, as this user: for the provider, curl and Chromium.
in_network() {
  $SUDO nsenter --net="/proc/$leader/ns/net" \
    setpriv --reuid="$(id -u)" --regid="$(id -g)" --init-groups env HOME="$HOME" PATH="$PATH" "$@"
}
# Its systemd answers once it has made its socket; then --wait waits for the boot to end.
booted=""
for _ in $(seq 1 300); do
  booted="$(timeout 60 $SUDO nsenter --target "$leader" --all systemctl is-system-running --wait 2>/dev/null || true)"
  case "$booted" in running | degraded | maintenance | stopping) break ;; esac
  sleep 0.1
done
echo "the container's systemd: $booted"
case "$booted" in
  running) ;;
  degraded) in_container systemctl --failed --no-pager || true ;; # none of ours: still usable
  *) fail "the container did not boot: $(cat "$scratch/container.log")" ;;
esac

outside="$issuer"
start_idp "$idp_port" container
[ "$issuer" = "$outside" ] || fail "the provider in the container is at $issuer, not $outside"

step "systemctl start tvsignin (in the container)"
in_container systemctl start tvsignin
for _ in $(seq 1 150); do
  in_container journalctl -u tvsignin -o cat --no-pager | grep -q 'provider discovery loaded' && break
  sleep 0.1
done
in_network curl -fsS "$app/readyz" || fail "not ready: $(in_container journalctl -u tvsignin -o cat --no-pager)"
echo
main_pid="$(in_container systemctl show -p MainPID --value tvsignin)"
# Its sandbox: a dynamic user, no capabilities, no new privileges, a system call filter,
# a read-only /usr and /etc.
sandbox="$(in_container grep -E '^(Uid|CapBnd|CapEff|NoNewPrivs|Seccomp):' "/proc/$main_pid/status")"
echo "$sandbox"
uid="$(awk '/^Uid:/ {print $2}' <<<"$sandbox")"
[ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] || fail "expected a dynamic user (61184-65519), got uid $uid"
grep -q '^CapBnd:[[:space:]]*0000000000000000$' <<<"$sandbox" || fail "the service keeps capabilities"
grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$sandbox" || fail "NoNewPrivileges is not in force"
grep -q '^Seccomp:[[:space:]]*2$' <<<"$sandbox" || fail "no system call filter"
# Even root cannot write there in the service's mount namespace (the container's root is
# writable, so only ProtectSystem=strict stops it).
for dir in /usr/share/tvsignin/site/pkg /etc/tvsignin; do
  if denied="$(in_container nsenter --target "$main_pid" --mount touch "$dir/probe" 2>&1)"; then
    fail "the service's view of $dir is writable"
  fi
  grep -q 'Read-only file system' <<<"$denied" || fail "unexpected: $denied"
done
echo "read-only: /usr/share/tvsignin/site/pkg, /etc/tvsignin"

step "npx playwright test tests/installed.spec.ts (in the container's network)"
(cd end2end && in_network env TVSIGNIN_INSTALLED_URL="$app" npx playwright test tests/installed.spec.ts)

step "kill -9 the service: systemd starts it again (Restart=on-failure)"
in_container kill -9 "$main_pid"
for _ in $(seq 1 100); do
  [ "$(in_container systemctl show -p NRestarts --value tvsignin)" = 1 ] &&
    [ "$(in_container systemctl is-active tvsignin || true)" = active ] && break
  sleep 0.1
done
in_container systemctl show -p NRestarts -p ActiveState -p MainPID tvsignin
[ "$(in_container systemctl show -p NRestarts --value tvsignin)" = 1 ] || fail "not restarted"

step "systemctl stop tvsignin (TimeoutStopSec=${stop_timeout}s)"
t0=$(date +%s%N)
in_container systemctl stop tvsignin
took_ms=$((($(date +%s%N) - t0) / 1000000))
result="$(in_container systemctl show -p Result --value tvsignin)"
echo "stopped in $took_ms ms, result: $result"
[ "$result" = success ] || fail "the stop did not succeed: $(in_container journalctl -u tvsignin -o cat --no-pager | tail -n 5)"
journal="$(in_container journalctl -u tvsignin -o cat --no-pager)"
grep -q 'shutting down' <<<"$journal" || fail "the service did not log its graceful stop"
if grep -E 'precompress|no browser files|WARN|ERROR' <<<"$journal"; then
  fail "the service logged the lines above"
fi

step "bad settings: the service stops with exit code 2 and is not restarted (RestartPreventExitStatus=2)"
in_container sh -c 'mkdir -p /etc/systemd/system/tvsignin.service.d &&
  printf "[Service]\nEnvironment=SITE_DIR=/nonexistent\n" >/etc/systemd/system/tvsignin.service.d/bad.conf &&
  systemctl daemon-reload'
in_container systemctl start tvsignin || true
for _ in $(seq 1 50); do
  [ "$(in_container systemctl is-active tvsignin || true)" = failed ] && break
  sleep 0.1
done
sleep 3 # past RestartSec=2s: a restart would have happened by now
in_container systemctl show -p ActiveState -p ExecMainStatus -p NRestarts tvsignin
[ "$(in_container systemctl show -p ExecMainStatus --value tvsignin)" = 2 ] || fail "expected exit code 2"
[ "$(in_container systemctl show -p NRestarts --value tvsignin)" = 0 ] || fail "restarted despite bad settings"
in_container journalctl -u tvsignin -o cat --no-pager | grep 'bad setting SITE_DIR' || fail "no line naming SITE_DIR"

stop_idp
$SUDO kill "$container_pid"
wait "$container_pid" 2>/dev/null || true
container_pid=""

# ---------------------------------------------------------------------------------------------
step "dpkg -r tvsignin: the program goes, the operator's settings stay"
$SUDO dpkg -r tvsignin
for path in /usr/bin/tvsignin /usr/share/tvsignin "$UNIT"; do
  [ ! -e "$path" ] || fail "$path is still there after dpkg -r"
done
grep -q "^ISSUER = \"$issuer\"" "$SETTINGS" || fail "dpkg -r did not keep the edited $SETTINGS"
$SUDO test -f "$SECRETS" || fail "dpkg -r removed $SECRETS"
status="$(dpkg-query -W -f='${Status}' tvsignin)"
echo "$status"
[ "$status" = "deinstall ok config-files" ] || fail "unexpected package status"

step "dpkg -P tvsignin: the settings go too"
$SUDO dpkg -P tvsignin
installed_by_us=0
[ ! -e /etc/tvsignin ] || fail "/etc/tvsignin is still there after dpkg -P: $(ls -la /etc/tvsignin)"
if dpkg-query -W tvsignin >/dev/null 2>&1; then
  fail "dpkg still knows tvsignin after dpkg -P"
fi
left="$(find /etc /usr /var/lib/systemd -name '*tvsignin*' 2>/dev/null)"
[ -z "$left" ] || fail "left behind after dpkg -P: $left"
echo "gone"

printf '\nThe Debian package checks passed in %ss.\n' "$((SECONDS - started))"
