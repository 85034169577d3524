# shellcheck shell=bash
# Sourced by bench/proxy/run.sh: report prints the results as Markdown.

declare -A scen_title=(
	[ka64]="HTTP/1.1 keep-alive, 64 connections (wrk -c64, GET / 1 KiB)"
	[ka256]="HTTP/1.1 keep-alive, 256 connections (wrk -c256)"
	[close]="a new connection per request (wrk -c64, Connection: close)"
	[https]="HTTPS keep-alive, 64 connections (wrk -c64, TLS 1.3, ECDSA P-256)"
	[h2]="HTTP/2 over TLS (h2load -c${H2_CONNS} -m${H2_STREAMS})"
	[big]="1 MiB answers, ${BIG_CONNS} connections (wrk, MiB/s)"
	[post]="64 KiB POST bodies, 64 connections (wrk, answers with the length)"
	[sticky]="cookie stickiness on, 64 connections sending their cookie (two cookies, one per backend)"
	[log]="access log on, 64 connections (wrk -c64, GET /)"
)

# med LIST: the median of the numbers in LIST ("-" when there are none).
med() {
	printf '%s\n' $1 | { grep -E '^[0-9.]+$' || true; } | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# medians fills m_rate, m_p50, m_p99 and m_eff, keyed like the r_ arrays,
# for every scenario and target ("-" where there is no figure).
declare -A m_rate m_p50 m_p99 m_eff
medians() {
	local s t
	for s in $SCENARIOS; do
		for t in "${targets[@]}"; do
			m_rate[$s,$t]=$(med "${r_rate[$s,$t]:-}")
			m_p50[$s,$t]=$(med "${r_p50[$s,$t]:-}")
			m_p99[$s,$t]=$(med "${r_p99[$s,$t]:-}")
			m_eff[$s,$t]=$(med "${r_eff[$s,$t]:-}")
		done
	done
}

# ratio A B: A / B with two decimals, "-" when either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'
}

# num X DIGITS: X rounded, "-" kept.
num() {
	awk -v v="$1" -v d="$2" 'BEGIN { if (v ~ /^[0-9.]+$/) printf "%.*f", d, v; else print v }'
}

dur_seconds() {
	awk -v d="$DUR" 'BEGIN { v = d + 0; if (d ~ /ms$/) v /= 1000; else if (d ~ /m$/) v *= 60; print v }'
}

versions() {
	echo "- go: $(go version | cut -d' ' -f3-)"
	if [[ -n ${QUILL_BIN:-} ]]; then
		echo "- quill: $QUILL_BIN ($("$work/quill" version 2>&1 | head -1))"
	else
		echo "- quill: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
	fi
	echo "- HAProxy: $(haproxy -v | head -1)"
	echo "- nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //')"
	echo "- pen: $(dpkg-query -W -f '${Version}' pen 2>/dev/null || echo unknown) (Debian package)"
	echo "- wrk: $(wrk -v 2>&1 | head -1 || true)"
	echo "- h2load: $(h2load --version | head -1)"
	echo "- OpenSSL: $(openssl version)"
	if [[ $SPIKES == 1 ]]; then
		echo "- fasthttp-spike: $(awk '$1 == "require" && $2 ~ /fasthttp/ { print $2, $3 } $1 ~ /valyala\/fasthttp$/ { print $1, $2 }' bench/proxy/spikes/fasthttp/go.mod | head -1)"
	fi
	for t in "${!extra_cmd[@]}"; do
		if [[ $t != fasthttp-spike ]]; then echo "- $t: \`${extra_cmd[$t]}\`"; fi
	done
}

# headline: every target's req/s and req per CPU-s as a multiple of HAProxy's.
headline() {
	local s t line
	printf '| scenario |'
	for t in "${targets[@]}"; do printf ' %s |' "$t"; done
	printf '\n| --- |'
	for t in "${targets[@]}"; do printf ' ---: |'; done
	printf '\n'
	for s in $SCENARIOS; do
		line="| $s |"
		for t in "${targets[@]}"; do
			local r e hr he
			r=${m_rate[$s,$t]}
			e=${m_eff[$s,$t]}
			hr=${m_rate[$s,haproxy]:--}
			he=${m_eff[$s,haproxy]:--}
			if [[ $r == - ]]; then
				line+=" n/a |"
			else
				line+=" $(ratio "$r" "$hr") / $(ratio "$e" "$he") |"
			fi
		done
		echo "$line"
	done
}

# feature_costs: what the access log and cookie stickiness cost each target,
# as its figures with the feature on over its plain keep-alive ones (ka64).
feature_costs() {
	local t s line
	echo "| target | log ÷ ka64, req/s | log ÷ ka64, per CPU-s | sticky ÷ ka64, req/s | sticky ÷ ka64, per CPU-s |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	for t in "${targets[@]}"; do
		line="| $t |"
		for s in log sticky; do
			line+=" $(ratio "${m_rate[$s,$t]:--}" "${m_rate[ka64,$t]:--}") |"
			line+=" $(ratio "${m_eff[$s,$t]:--}" "${m_eff[ka64,$t]:--}") |"
		done
		echo "$line"
	done
}

scenario_table() {
	local s=$1 t unit="req/s" digits=0 r p50 p99 e qr qe hr he
	[[ $s == big ]] && unit="MiB/s" digits=1
	qr=${m_rate[$s,quill]:--}
	qe=${m_eff[$s,quill]:--}
	hr=${m_rate[$s,haproxy]:--}
	he=${m_eff[$s,haproxy]:--}
	echo "### $s: ${scen_title[$s]}"
	echo
	printf '| %-16s | %9s | %7s | %7s | %13s | %13s | %17s | %16s | %20s | %6s |\n' target "$unit" "p50 ms" "p99 ms" "req per CPU-s" \
		"quill ÷ it, $unit" "quill ÷ it, per CPU-s" "it × HAProxy, $unit" "it × HAProxy, per CPU-s" errors
	printf '| %-16s | %9s | %7s | %7s | %13s | %13s | %17s | %16s | %20s | %6s |\n' --- ---: ---: ---: ---: ---: ---: ---: ---: ---:
	for t in "${targets[@]}"; do
		r=${m_rate[$s,$t]}
		if [[ $r == - ]]; then
			printf '| %-16s | %9s | %7s | %7s | %13s | %13s | %17s | %16s | %20s | %6s |\n' "$t" n/a "" "" "" "" "" "" "" ""
			continue
		fi
		p50=${m_p50[$s,$t]}
		p99=${m_p99[$s,$t]}
		e=${m_eff[$s,$t]}
		printf '| %-16s | %9s | %7s | %7s | %13s | %13s | %17s | %16s | %20s | %6s |\n' "$t" "$(num "$r" "$digits")" \
			"$(num "$p50" 2)" "$(num "$p99" 2)" "$(num "$e" 0)" "$(ratio "$qr" "$r")" "$(ratio "$qe" "$e")" \
			"$(ratio "$r" "$hr")" "$(ratio "$e" "$he")" "${r_err[$s,$t]:-0}"
	done
	echo
}

idle_table() {
	local t m per qp qt line
	echo "| target | plain: RSS before → after (MiB) | plain: KiB per connection | TLS: RSS before → after (MiB) | TLS: KiB per connection | quill ÷ it, plain | quill ÷ it, TLS |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	declare -A per_conn=()
	for t in "${targets[@]}"; do
		for m in plain tls; do
			per_conn[$t,$m]=$(awk -v b="${idle_before[$t,$m]:-}" -v a="${idle_after[$t,$m]:-}" -v n="${idle_held[$t,$m]:-0}" \
				'BEGIN { if (n > 0 && a != "") printf "%.1f", (a - b) / n; else print "-" }')
		done
	done
	for t in "${targets[@]}"; do
		line="| $t |"
		for m in plain tls; do
			per=${per_conn[$t,$m]}
			if [[ $per == - ]]; then
				line+=" n/a | n/a |"
			else
				line+=" $(awk -v b="${idle_before[$t,$m]}" -v a="${idle_after[$t,$m]}" 'BEGIN { printf "%.1f → %.1f", b / 1024, a / 1024 }')"
				if ((${idle_failed[$t,$m]:-0} > 0)); then line+=" (${idle_failed[$t,$m]} failed)"; fi
				line+=" | $per |"
			fi
		done
		qp=$(ratio "${per_conn[quill,plain]:-}" "${per_conn[$t,plain]}")
		qt=$(ratio "${per_conn[quill,tls]:-}" "${per_conn[$t,tls]}")
		echo "$line $qp | $qt |"
	done
}

probe_table() {
	local n t line
	printf '| probe |'
	for t in "${targets[@]}"; do printf ' %s |' "$t"; done
	printf '\n| --- |'
	for t in "${targets[@]}"; do printf ' --- |'; done
	printf '\n'
	for n in "${probe_names[@]}"; do
		line="| $n |"
		for t in "${targets[@]}"; do line+=" ${probe_res[$n,$t]:-n/a} |"; done
		echo "$line"
	done
	echo
	echo "What each probe sends (one client, one connection):"
	echo
	"$work/probe" -list | sed 's/^\([^ ]*\) *\(.*\)$/- `\1`: \2/'
}

report() {
	local s t
	medians
	echo "# quill beside HAProxy, nginx and pen (bench/proxy/run.sh)"
	echo
	if ((ROUNDS < 3)) || awk -v d="$(dur_seconds)" 'BEGIN { exit !(d < 5) }'; then
		echo "> **Smoke run** (ROUNDS=$ROUNDS DUR=$DUR, on a machine busy with other work): it shows that every"
		echo "> scenario yields figures for every peer, and its figures are not to be quoted. A full run"
		echo "> (\`bench/proxy/run.sh\` with its defaults, on a quiet machine) replaces this file."
		echo
	fi
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -sr)"
	echo "- settings: ROUNDS=$ROUNDS DUR=$DUR THREADS=$THREADS H2_CONNS=$H2_CONNS H2_STREAMS=$H2_STREAMS BIG_CONNS=$BIG_CONNS IDLE_CONNS=$IDLE_CONNS SPIKES=$SPIKES PROBES=$PROBES"
	echo "- load average (1, 5, 15 min): $load_before before the rounds, $load_after after"
	echo "- the whole run took $((SECONDS / 60)) min $((SECONDS % 60)) s"
	versions
	echo
	echo "Everything runs on the same cores: wrk or h2load, two Go backends and the proxy. Figures are"
	echo "medians of $ROUNDS interleaved rounds (every scenario for every target in each round, the targets'"
	echo "order rotating). *req per CPU-s* is requests served per second of the proxy's own CPU time"
	echo "(utime + stime from /proc, nginx's workers included), the steadier figure on a shared machine."
	echo "*quill ÷ it* above 1 means quill is ahead; *it × HAProxy* compares any target with HAProxy."
	echo
	echo "## Summary: each target × HAProxy (req/s / req per CPU-s)"
	echo
	headline
	echo
	if [[ " $SCENARIOS " == *" ka64 "* ]]; then
		echo "## What the access log and cookie stickiness cost"
		echo
		echo "Each target's figures with the feature on, over its own keep-alive figures at 64 connections."
		echo
		feature_costs
		echo
	fi
	echo "## Scenarios"
	echo
	for s in $SCENARIOS; do scenario_table "$s"; done
	if ((IDLE_CONNS > 0)); then
		echo "## Memory per idle keep-alive connection"
		echo
		echo "$IDLE_CONNS connections, each having made one GET / and read its answer, then idle; each"
		echo "proxy in a fresh process; (VmRSS after − VmRSS before) ÷ connections held, nginx's workers summed."
		echo
		idle_table
		echo
	fi
	if [[ $PROBES == 1 ]]; then
		echo "## Smuggling probes"
		echo
		echo "Raw bytes to each target's plain listener; the cell is the status the client got first and"
		echo "what the backends' handlers saw: *refused* (no handler saw the request: the proxy refused it,"
		echo "or passed it on and the backend's net/http parser refused it), *forwarded* (a handler saw it and"
		echo "nothing more), *SMUGGLED* (a handler saw GET /smuggled, a request the client sent as part of"
		echo "another). The control probe sends two requests in earnest and must read *ok*."
		echo
		probe_table
		echo
	fi
	echo "## How each peer is set up"
	echo
	peer_notes
	echo
	if ((${#loglines[@]})); then
		echo "Access log lines written while the log scenario ran (all rounds, warm-up included):"
		for t in "${targets[@]}"; do
			if [[ -n ${loglines[$t]:-} ]]; then echo "$t ${loglines[$t]};"; fi
		done | tr '\n' ' ' | sed 's/; $/./'
		echo
		echo
	fi
	if ((${#notes[@]})); then
		echo "## Notes from this run"
		echo
		printf -- '- %s\n' "${notes[@]}"
		echo
	fi
	echo "## Every round"
	echo
	echo '```'
	for s in $SCENARIOS; do
		for t in "${targets[@]}"; do
			[[ -n ${r_rate[$s,$t]:-} ]] || continue
			printf '%-7s %-16s rate: %s| p99: %s| req/CPU-s: %s\n' "$s" "$t" "${r_rate[$s,$t]}" "${r_p99[$s,$t]}" "${r_eff[$s,$t]}"
		done
	done
	echo '```'
}
