#!/usr/bin/env bash
# Builds the Debian package of quill from this checkout with dpkg-deb:
#   packaging/deb/build.sh [OUTDIR]      (default OUTDIR: dist/)
# and prints the path of the .deb. Needs Go and dpkg-deb. The version is
# the checkout's: `git describe` of a v* tag, else 0~git.DATE.COMMIT;
# QUILL_VERSION overrides it. GOARCH chooses the architecture.
#
# The binary is static (CGO_ENABLED=0, -trimpath). CGO_ENABLED=1 builds it
# as a plain `go build` does on a machine with a C compiler, linked against
# the C library (the package then depends on libc6): that build reuses the
# cache of the one the tests make, which the package's own test relies on.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)
cd "$root"
export PATH="$PATH:/usr/local/go/bin"

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "${QUILL_VERSION:-}" ]; then
	version=$QUILL_VERSION
elif ! git rev-parse --git-dir >/dev/null 2>&1; then
	version=0~dev
elif tag=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
	# v1.2.0-3-gabcdef0 -> 1.2.0+3.gabcdef0: sorts after 1.2.0, before 1.2.1.
	version=$(echo "${tag#v}" | sed -E 's/-([0-9]+)-g([0-9a-f]+)$/+\1.g\2/')
else
	version="0~git.$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S).$(git rev-parse --short=12 HEAD)"
fi
if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet HEAD; then
	version="$version.dirty"
fi

goarch=${GOARCH:-$(go env GOARCH)}
case $goarch in
	amd64 | arm64 | riscv64 | ppc64le | s390x) arch=$goarch ;;
	386) arch=i386 ;;
	arm) arch=armhf ;;
	*) echo "build.sh: no Debian architecture for GOARCH=$goarch" >&2; exit 1 ;;
esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/quill

depends=passwd
buildflags=(-trimpath)
export CGO_ENABLED=${CGO_ENABLED:-0}
if [ "$CGO_ENABLED" = 1 ]; then
	depends="libc6, $depends"
	buildflags=()
fi
GOARCH=$goarch go build "${buildflags[@]}" \
	-ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
	-o "$pkg/usr/bin/quill" ./cmd/quill

install -D -m 0644 configs/quickstart.toml "$pkg/etc/quill/quill.toml"
install -D -m 0644 configs/logrotate.quill "$pkg/etc/logrotate.d/quill"
for unit in quill.service quill-vrrp.service; do
	mkdir -p "$pkg/usr/lib/systemd/system"
	sed 's#/usr/local/bin/quill#/usr/bin/quill#g' "configs/$unit" >"$pkg/usr/lib/systemd/system/$unit"
	chmod 0644 "$pkg/usr/lib/systemd/system/$unit"
done

go run ./cmd/quill-man -man "$stage/man"
install -D -m 0644 "$stage/man/quill.1" "$pkg/usr/share/man/man1/quill.1"
install -D -m 0644 "$stage/man/quill-toml.5" "$pkg/usr/share/man/man5/quill-toml.5"
gzip -9n "$pkg/usr/share/man/man1/quill.1" "$pkg/usr/share/man/man5/quill-toml.5"

doc=$pkg/usr/share/doc/quill
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 "$here/copyright" "$doc/copyright"
install -d "$doc/examples/two-node-ha"
install -m 0644 configs/*.toml "$doc/examples/"
install -m 0644 configs/two-node-ha/*.toml "$doc/examples/two-node-ha/"
for set in two three; do
	install -d "$doc/examples/active-active/$set"
	install -m 0644 configs/active-active/$set/*.toml "$doc/examples/active-active/$set/"
done

install -d "$pkg/DEBIAN"
install -m 0644 "$here/conffiles" "$pkg/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$pkg/DEBIAN/"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
	-e "s/@SIZE@/$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)/" \
	"$here/control" >"$pkg/DEBIAN/control"

deb=$out/quill_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
