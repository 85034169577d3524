# shellcheck shell=bash
# Sourced by bench/proxy/run.sh: the checks, the measurements and the memory
# test. Results go to associative arrays keyed "SCENARIO,TARGET"; each holds
# the values of every round, space-separated, for report.sh to take medians.

declare -A scen_mode=([ka64]=plain [ka256]=plain [close]=plain [https]=tls [h2]=tls
	[big]=plain [post]=plain [sticky]=sticky [log]=log)
declare -A r_rate r_p50 r_p99 r_eff r_err cookies h2_broken loglines
declare -A probe_res idle_before idle_after idle_held idle_failed
probe_names=()

# end_pids PID... kills those processes, waits for them and drops them from
# the list that the exit trap kills.
end_pids() {
	local p keep=()
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		if [[ " $* " != *" $p "* ]]; then keep+=("$p"); fi
	done
	pids=("${keep[@]}")
}

# runs S T: whether scenario S applies to target T.
runs() {
	local s=$1 t=$2 m=${scen_mode[$1]:-}
	[[ -n $m ]] || { echo "run.sh: no scenario $s" >&2; exit 1; }
	[[ -n ${has[$t,$m]:-} ]] || return 1
	case $s in
	h2) h2_capable "$t" && [[ -z ${h2_broken[$t]:-} ]] ;;
	sticky) [[ -n ${cookies[$t]:-} ]] ;;
	esac
}

# broken T MODE WHY: T's listener for MODE did not forward as expected; its
# scenarios are left out and the report says why.
broken() {
	unset "has[$1,$2]"
	note "$1 ($2 listener) left out: $3"
}

# get URL [CURL ARGS]: "STATUS SIZE" of a request, the body in $work/body.
get() {
	local url=$1
	shift
	curl -sk -o "$work/body" -w '%{http_code} %{size_download}' --max-time 10 "$@" "$url" || echo "000 0"
}

check_target() {
	local t=$1 u got
	if [[ -n ${has[$t,plain]:-} ]]; then
		u="http://127.0.0.1:${port[$t,plain]}"
		head -c 65536 /dev/zero | tr '\0' x >"$work/post64k"
		if [[ $(get "$u/") != "200 1024" ]]; then
			broken "$t" plain "GET / did not answer 200 with 1024 bytes"
		elif [[ $(get "$u/big") != "200 1048576" ]]; then
			broken "$t" plain "GET /big did not answer 200 with 1 MiB"
		elif get "$u/xff" >/dev/null && ! grep -q '127\.0\.0\.1' "$work/body"; then
			broken "$t" plain "the backend got no X-Forwarded-For with the client's address"
		elif get "$u/post" --data-binary @"$work/post64k" -H 'Expect:' >/dev/null && [[ $(cat "$work/body") != 65536 ]]; then
			broken "$t" plain "a 64 KiB POST did not reach the backend whole"
		fi
	fi
	if [[ -n ${has[$t,tls]:-} ]]; then
		u="https://127.0.0.1:${port[$t,tls]}/"
		if [[ $(get "$u" --http1.1) != "200 1024" ]]; then
			broken "$t" tls "GET / over HTTPS did not answer 200 with 1024 bytes"
		elif h2_capable "$t"; then
			got=$(curl -sk -o /dev/null -w '%{http_version} %{http_code}' --http2 --max-time 10 "$u" || true)
			if [[ $got != "2 200" ]]; then
				h2_broken[$t]=1
				note "$t left out of h2: curl --http2 got \"$got\" (version, status)"
			fi
		fi
	fi
	if [[ -n ${has[$t,sticky]:-} ]]; then find_cookies "$t"; fi
	if [[ -n ${has[$t,log]:-} && $(get "http://127.0.0.1:${port[$t,log]}/") != "200 1024" ]]; then
		broken "$t" log "GET / did not answer 200 with 1024 bytes"
	fi
}

# backend_of URL [CURL ARGS]: the X-Backend of the answer.
backend_of() {
	local url=$1
	shift
	{ curl -s -D - -o /dev/null --max-time 10 "$@" "$url" || true; } | tr -d '\r' |
		awk -F': ' 'tolower($1) == "x-backend" { print $2 }'
}

# find_cookies T sets cookies[T] to two cookies that pin clients to different
# backends: those the proxy sets on first visits, or, for a proxy that sets
# none (nginx hashing QSTICK), values of QSTICK that hash apart.
find_cookies() {
	local t=$1 i hdr be ck
	local url="http://127.0.0.1:${port[$1,sticky]}/"
	local -A seen=()
	local found=()
	for ((i = 0; i < 8 && ${#found[@]} < 2; i++)); do
		hdr=$({ curl -s -D - -o /dev/null --max-time 10 "$url" || true; } | tr -d '\r')
		be=$(awk -F': ' 'tolower($1) == "x-backend" { print $2 }' <<<"$hdr")
		ck=$(awk -F': ' 'tolower($1) == "set-cookie" { print $2; exit }' <<<"$hdr")
		ck=${ck%%;*}
		[[ -n $ck && -n $be && -z ${seen[$be]:-} ]] || continue
		seen[$be]=1
		found+=("$ck")
	done
	for ((i = 1; i <= 40 && ${#found[@]} < 2; i++)); do
		be=$(backend_of "$url" -H "Cookie: QSTICK=c$i")
		[[ -n $be && -z ${seen[$be]:-} ]] || continue
		seen[$be]=1
		found+=("QSTICK=c$i")
	done
	if ((${#found[@]} < 2)); then
		broken "$t" sticky "no two cookies pinning different backends found"
		return
	fi
	for ck in "${found[@]}"; do
		be=$(backend_of "$url" -H "Cookie: $ck")
		for i in 1 2 3; do
			if [[ $(backend_of "$url" -H "Cookie: $ck") != "$be" ]]; then
				broken "$t" sticky "cookie $ck does not keep a client on $be"
				return
			fi
		done
	done
	cookies[$t]="${found[*]}"
}

# to_ms converts wrk's latency (850.00us, 1.20ms, 1.02s, 1.50m) to ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else print "-" }'
}

# to_mib converts wrk's Transfer/sec (1.02GB, 980.12MB, 12.00KB) to MiB.
to_mib() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /GB$/) { sub(/GB$/, "", v); printf "%.1f", v * 1024 }
		else if (v ~ /MB$/) { sub(/MB$/, "", v); printf "%.1f", v }
		else if (v ~ /KB$/) { sub(/KB$/, "", v); printf "%.1f", v / 1024 }
		else if (v ~ /B$/) { sub(/B$/, "", v); printf "%.1f", v / 1048576 }
		else print "-" }'
}

# percentile P FILE: the P-th percentile of the numbers in FILE, µs to ms.
percentile() {
	sort -n "$2" | awk -v p="$1" '{ a[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1
		printf "%.3f", a[i] / 1000 }'
}

# measure S T ROUND: one run of scenario S against target T.
measure() {
	local s=$1 t=$2 r=$3 m=${scen_mode[$1]} out before after rate count p50 p99 err eff
	local p=${pid[$t,$m]} url="http://127.0.0.1:${port[$t,$m]}"
	[[ $m == tls ]] && url="https://127.0.0.1:${port[$t,$m]}"
	local w=(wrk -t"$THREADS" -d"$DUR" --latency)
	before=$(cpu_ticks "$p")
	case $s in
	ka64 | https | log) out=$("${w[@]}" -c64 "$url/" 2>&1) || true ;;
	ka256) out=$("${w[@]}" -c256 "$url/" 2>&1) || true ;;
	close) out=$("${w[@]}" -c64 -H 'Connection: close' "$url/" 2>&1) || true ;;
	big) out=$("${w[@]}" -c"$BIG_CONNS" "$url/big" 2>&1) || true ;;
	post) out=$("${w[@]}" -c64 -s bench/proxy/post.lua "$url/post" 2>&1) || true ;;
	sticky)
		local cks
		read -r -a cks <<<"${cookies[$t]}"
		out=$("${w[@]}" -c64 -s bench/proxy/sticky.lua "$url/" -- "${cks[@]}" 2>&1) || true
		;;
	h2)
		rm -f "$work/h2.log"
		out=$(h2load -t"$THREADS" -c"$H2_CONNS" -m"$H2_STREAMS" -D "$DUR" --log-file="$work/h2.log" "$url/" 2>&1) || true
		;;
	esac
	after=$(cpu_ticks "$p")
	if [[ $s == h2 ]]; then
		rate=$(awk '/^finished in/ { printf "%.0f", $4 }' <<<"$out")
		count=$(sed -n 's/.* \([0-9]*\) succeeded, \([0-9]*\) failed, \([0-9]*\) errored.*/\1/p' <<<"$out")
		err=$(sed -n 's/.* succeeded, \([0-9]*\) failed, \([0-9]*\) errored.*/\1 \2/p' <<<"$out" | awk '{ print $1 + $2 }')
		awk '$2 != -1 { print $3 }' "$work/h2.log" 2>/dev/null >"$work/h2.us" || true
		p50=$(percentile 50 "$work/h2.us")
		p99=$(percentile 99 "$work/h2.us")
	else
		if [[ $s == big ]]; then
			rate=$(to_mib "$(awk '/^Transfer\/sec:/ { print $2 }' <<<"$out")")
		else
			rate=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
		fi
		count=$(awk '/requests in/ { print $1 }' <<<"$out")
		p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
		p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
		err=$(awk '/^ *Non-2xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' <<<"$out")
	fi
	rate=${rate:--}
	count=${count:-0}
	err=${err:-0}
	if [[ $rate == - || $count == 0 ]]; then
		note "$s $t round $r: no figure from the load generator: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
		return
	fi
	eff=$(awk -v n="$count" -v d=$((after - before)) -v hz="$hz" 'BEGIN { if (d > 0) printf "%.0f", n * hz / d; else print "-" }')
	r_rate[$s,$t]+="$rate "
	r_p50[$s,$t]+="$p50 "
	r_p99[$s,$t]+="$p99 "
	r_eff[$s,$t]+="$eff "
	r_err[$s,$t]=$((${r_err[$s,$t]:-0} + err))
	printf 'round %d %-7s %-16s rate=%-9s p50=%-8s p99=%-8s req/cpu-s=%-8s errors=%s\n' \
		"$r" "$s" "$t" "$rate" "$p50" "$p99" "$eff" "$err"
}

# count_log_lines notes how many lines each logging target wrote, so that the
# report shows that the log scenario logged.
count_log_lines() {
	local t f
	sleep 2 # quill holds lines for its 1 s window, nginx flushes every 1 s
	for t in "${targets[@]}"; do
		[[ -n ${has[$t,log]:-} ]] || continue
		f=$work/$t-access.log
		loglines[$t]=$( (cat "$f" 2>/dev/null || true) | wc -l)
	done
}

# probe_target T sends the smuggling probes to T's plain listener.
probe_target() {
	local t=$1 line name
	[[ -n ${has[$t,plain]:-} ]] || return 0
	"$work/probe" -target "127.0.0.1:${port[$t,plain]}" -backends "$b1,$b2" >"$work/probe-$t.out" 2>"$work/probe-$t.err" ||
		note "probes against $t: $(tr '\n' ' ' <"$work/probe-$t.err")"
	while read -r line; do
		name=${line%% *}
		if [[ " ${probe_names[*]} " != *" $name "* ]]; then probe_names+=("$name"); fi
		probe_res[$name,$t]="$(sed -n 's/.*status=\([^ ]*\).* verdict=\([^ ]*\).*/\1 \2/p' <<<"$line")"
		echo "$t $line"
	done <"$work/probe-$t.out"
}

# idle_rss T MODE: a fresh T, IDLE_CONNS idle keep-alive connections on its
# MODE listener, its RSS before and after.
idle_rss() {
	local t=$1 m=$2 p c i scheme=http flag=()
	[[ $m == tls ]] && scheme=https flag=(-tls)
	start_target "$t"
	p=${pid[$t,$m]}
	curl -sk -o /dev/null --max-time 10 "$scheme://127.0.0.1:${port[$t,$m]}/" || true
	sleep 1
	idle_before[$t,$m]=$(rss_kb "$p")
	"$work/idleconns" -addr "127.0.0.1:${port[$t,$m]}" -n "$IDLE_CONNS" "${flag[@]}" -hold 5m \
		>"$work/idle.out" 2>"$work/idle.err" &
	c=$!
	pids+=("$c")
	for ((i = 0; i < 1800; i++)); do
		if grep -q '^held' "$work/idle.out" || ! kill -0 "$c" 2>/dev/null; then break; fi
		sleep 0.1
	done
	# Idle means idle for a while: give every peer the same few seconds to
	# settle (a collector, a lazy free, quill's parking of idle connections).
	sleep "$IDLE_WAIT"
	idle_after[$t,$m]=$(rss_kb "$p")
	idle_held[$t,$m]=$(awk '/^held/ { print $2 }' "$work/idle.out")
	idle_failed[$t,$m]=$(awk '/^held/ { print $4 }' "$work/idle.out")
	if [[ -s $work/idle.err ]]; then note "idle $t $m: $(head -c 300 "$work/idle.err")"; fi
	end_pids "$c"
	stop_target "$t"
	printf 'idle %-16s %-5s held=%s failed=%s rss before=%s KiB after=%s KiB\n' "$t" "$m" \
		"${idle_held[$t,$m]:-0}" "${idle_failed[$t,$m]:-?}" "${idle_before[$t,$m]}" "${idle_after[$t,$m]}"
}
