# shellcheck shell=bash
# Shared by the benchmark scripts: a work directory removed at exit, the
# processes a script starts (append their PIDs to pids) killed at exit, and
# free loopback ports. Source it after `set -euo pipefail`:
#   cd "$(dirname "$0")/../.."; . bench/lib.sh; bench_workdir quill-bench-tls
pids=()

bench_cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}

# bench_workdir makes $work under ${TMPDIR:-/tmp} and arranges the cleanup.
bench_workdir() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap bench_cleanup EXIT
	# bash skips the EXIT trap when a signal kills it: exit instead.
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# free_port prints a loopback port nothing listens on, from $1 upwards.
free_port() {
	local p
	for ((p = $1; p < $1 + 500; p++)); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port from $1" >&2
	return 1
}

# wait_port PORT PID LOG... waits (10 s at most) until 127.0.0.1:PORT
# accepts connections; else, or as soon as PID (when not empty) has exited,
# it shows the end of the LOG files and exits.
wait_port() {
	local port=$1 pid=$2 i
	shift 2
	for ((i = 0; i < 100; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return; fi
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then break; fi
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$port; the end of its logs:" >&2
	tail -n 20 "$@" >&2 2>/dev/null || true
	exit 1
}

# bench_install NAME installs, with apt-get, the Debian package of each
# command of the associative array NAME (command -> package) that is not on
# the PATH, and checks that Go is there.
bench_install() {
	local -n want=$1
	local tool missing=()
	for tool in "${!want[@]}"; do
		command -v "$tool" >/dev/null || missing+=("${want[$tool]}")
	done
	if ((${#missing[@]})); then
		if [[ $(id -u) != 0 ]]; then
			echo "run.sh: missing ${missing[*]}; as root: apt-get install ${missing[*]}" >&2
			exit 1
		fi
		echo "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
	fi
	command -v go >/dev/null || { echo "run.sh: go is not installed" >&2; exit 1; }
}
