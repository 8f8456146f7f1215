#!/bin/sh
# configure fails on each missing dependency with a message naming the
# Debian package that provides it. A wrapper around pkg-config hides one
# module at a time; a shared cache keeps the compiler checks from re-running.
. "$top_srcdir/tests/integration/lib.sh"

REAL_PKG_CONFIG=$(command -v pkg-config)
cat >"$T/pkg-config" <<SCRIPT
#!/bin/sh
for a in "\$@"; do
	case \$a in
	"\$HIDE"|"\$HIDE "*) exit 1 ;;
	esac
done
exec "$REAL_PKG_CONFIG" "\$@"
SCRIPT
chmod +x "$T/pkg-config"

mkdir "$T/build"
cd "$T/build"
for pair in sqlite3:libsqlite3-dev libgit2:libgit2-dev msgpack:libmsgpack-dev \
	jansson:libjansson-dev libevent:libevent-dev inih:libinih-dev \
	ncursesw:libncurses-dev cmocka:libcmocka-dev; do
	module=${pair%%:*}
	package=${pair#*:}
	run env HIDE="$module" PKG_CONFIG="$T/pkg-config" \
		"$top_srcdir/configure" -q -C --cache-file="$T/config.cache"
	expect_rc 1
	err_has "$module"
	err_has "install the Debian package '$package' (apt-get install $package)"
done

# With nothing hidden it gets through.
run env HIDE=none PKG_CONFIG="$T/pkg-config" \
	"$top_srcdir/configure" -q -C --cache-file="$T/config.cache"
expect_rc 0
