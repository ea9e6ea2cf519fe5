#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End to end with podman: unionmount as the mount_program of
# containers-storage's overlay driver.  Imports a busybox rootfs as an
# image, builds a five-layer image (--isolation chroot), runs it, writes in
# a container, commits it and runs the result, asserting the merged view
# exactly each time; checks that podman really used unionmount (podman info,
# fuse.unionmount in /proc/mounts while a container runs).
#
# Everything lives in a temporary directory: a storage.conf (graphroot,
# runroot, mount_program) and a containers.conf (tmp dir, network config
# dir, events log) given through CONTAINERS_STORAGE_CONF/CONTAINERS_CONF.
# podman still writes /var/lib/containers/cache (blob info cache) and
# /run/containers, so the script runs in a private mount namespace with
# empty directories bind-mounted over those two; a directory it had to
# create for that is removed again.  Installs podman, runc, busybox-static
# with apt-get if missing.  No registry is contacted.
#
# Output: "ok NAME" / "FAIL NAME: ..." lines; exit 0 (pass), 1 (fail) or
# 77 (skip: not root, no /dev/fuse).
#
# Environment: UNIONMOUNT (default build/unionmount), UM_TEST_IMPL=kernel
# runs the same steps with podman's native kernel overlay (no
# mount_program), to check the expectations themselves; UM_TEST_KEEP=1
# keeps the storage directory.
#
# Usage: tests/podman/run.sh

# shellcheck disable=SC2016,SC2317  # single-quoted scripts; trap handler

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
UNIONMOUNT=$(realpath "${UNIONMOUNT:-$repo/build/unionmount}")
IMPL=${UM_TEST_IMPL:-unionmount}

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: needs root"
	exit 77
fi
if [ ! -c /dev/fuse ]; then
	echo "skip: /dev/fuse is missing"
	exit 77
fi
if [ ! -x "$UNIONMOUNT" ]; then
	echo "FAIL setup: no unionmount executable at $UNIONMOUNT"
	exit 1
fi

if [ -z "${UM_PODMAN_PRIVATE_NS:-}" ]; then
	missing=()
	for p in podman runc busybox-static; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "# installing: ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
			"${missing[@]}" >/dev/null 2>&1 || {
			echo "FAIL setup: apt-get install ${missing[*]}"
			exit 1
		}
	fi
	# directories podman writes outside its configured roots: make them
	# exist so that they can be shadowed, and remove them afterwards
	created=()
	for d in /var/lib/containers /run/containers; do
		if [ ! -e "$d" ]; then
			mkdir -p "$d" && created+=("$d")
		fi
	done
	UM_PODMAN_PRIVATE_NS=1 unshare -m --propagation private "$0" "$@"
	rc=$?
	for d in "${created[@]}"; do
		rm -rf "$d"
	done
	exit $rc
fi

T=$(mktemp -d /var/tmp/umpodman.XXXXXX)
failed=0

ok() { echo "ok $1"; }
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

# eq NAME GOT WANT
eq() {
	if [ "$2" == "$3" ]; then
		ok "$1"
	else
		fail "$1" "$(printf 'expected:\n%s\ngot:\n%s' "$3" "$2")"
	fi
}

mounts_under() {
	awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts
}

cleanup() {
	trap - EXIT INT TERM
	P rm -a -f -t 0 >/dev/null 2>&1
	[ "${UM_TEST_KEEP:-}" == 1 ] || P rmi -a -f >/dev/null 2>&1
	local mp
	for mp in $(mounts_under | sort -r); do
		umount "$mp" 2>/dev/null || umount -l "$mp"
	done
	umount /var/lib/containers /run/containers 2>/dev/null
	if [ "${UM_TEST_KEEP:-}" == 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$T"/{shadow-lib,shadow-run,tmp,libpodtmp,networks,ctx,rootfs}
if ! mount --bind "$T/shadow-lib" /var/lib/containers ||
	! mount --bind "$T/shadow-run" /run/containers; then
	echo "FAIL setup: cannot shadow /var/lib/containers, /run/containers"
	exit 1
fi

{
	echo '[storage]'
	echo 'driver = "overlay"'
	echo "graphroot = \"$T/root\""
	echo "runroot = \"$T/run\""
	if [ "$IMPL" != kernel ]; then
		echo '[storage.options.overlay]'
		echo "mount_program = \"$UNIONMOUNT\""
	fi
} >"$T/storage.conf"
cat >"$T/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/events.log"
tmp_dir = "$T/libpodtmp"
runtime = "runc"
[network]
network_config_dir = "$T/networks"
EOF
export CONTAINERS_STORAGE_CONF="$T/storage.conf"
export CONTAINERS_CONF="$T/containers.conf"
export TMPDIR="$T/tmp"

# podman with our configuration.  Not --root/--runroot: podman 4.3 then
# ignores [storage.options.overlay] of storage.conf and silently uses the
# kernel overlay driver without mount_program.
P() {
	podman --tmpdir "$T/libpodtmp" --network-config-dir "$T/networks" "$@"
}

RUN=(run --runtime runc --network none
     --ulimit nofile=1024:1024 --ulimit nproc=1000:1000)

# --- the driver podman uses -------------------------------------------------
driver=$(P info --format '{{.Store.GraphDriverName}}' 2>&1)
mp=$(P info --format \
	'{{range $k, $v := .Store.GraphOptions}}{{$k}}={{$v.Executable}} {{end}}' \
	2>&1)
if [ "$IMPL" == kernel ]; then
	eq podman_info_driver "$driver $mp" "overlay "
else
	eq podman_info_driver "$driver $mp" \
		"overlay overlay.mount_program=$UNIONMOUNT "
fi

# --- a busybox image -------------------------------------------------------
mkdir -p "$T"/rootfs/{bin,etc,tmp,proc,sys,dev,root}
cp /bin/busybox "$T/rootfs/bin/"
for a in $("$T/rootfs/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$T/rootfs/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$T/rootfs/etc/passwd"
echo 'root:x:0:' >"$T/rootfs/etc/group"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
if out=$(P import "$T/rootfs.tar" localhost/umbase:1 2>&1); then
	ok import
else
	fail import "$out"
	exit 1
fi

# --- a five-layer image ------------------------------------------------------
cat >"$T/ctx/Containerfile" <<'EOF'
FROM localhost/umbase:1
RUN mkdir -p /data/keep /data/gone/sub && echo one > /data/keep/f && \
    echo g > /data/gone/sub/g && echo orig > /data/over && \
    echo h > /data/h && \
    echo t > /data/gone/t && chmod 644 /data/over
RUN rm -rf /data/gone && echo new > /data/over && chmod 600 /data/keep/f && \
    mkdir /data/gone && echo again > /data/gone/n
RUN ln /data/h /data/h2 && chmod 4755 /data/h
RUN mkdir /data/l4 && echo four > /data/l4/x && rm /data/keep/f && \
    echo f2 > /data/keep/f2 && chmod 751 /data/keep
EOF
if out=$(P build --isolation chroot -t localhost/umtest:1 "$T/ctx" 2>&1); then
	ok build
else
	fail build "$out"
	exit 1
fi
eq image_layers "$(P image inspect --format '{{len .RootFS.Layers}}' \
	localhost/umtest:1 2>&1)" 5

# One line per object under /data: path, mode; links, size and content of
# regular files (newlines shown as |); then whether h and h2 share an inode.
# No link count for directories: whether a directory is merged (st_nlink 1)
# or opaque depends on how containers-storage computed the layer diff (from
# the upper directory with the kernel driver, by comparing trees with a
# mount_program), not on the file system.
LIST='cd /data && find . | sort | while read -r f; do
	if [ -d "$f" ]; then echo "$f $(stat -c "%A" "$f")"
	else echo "$f $(stat -c "%A %h %s" "$f") $(tr "\n" "|" < "$f")"; fi
done
[ "$(stat -c %i h)" = "$(stat -c %i h2)" ] && echo "h h2: one inode"'

want1='. drwxr-xr-x
./gone drwxr-xr-x
./gone/n -rw-r--r-- 1 6 again|
./h -rwsr-xr-x 2 2 h|
./h2 -rwsr-xr-x 2 2 h|
./keep drwxr-x--x
./keep/f2 -rw-r--r-- 1 3 f2|
./l4 drwxr-xr-x
./l4/x -rw-r--r-- 1 5 four|
./over -rw-r--r-- 1 4 new|
h h2: one inode'
eq run_image "$(P "${RUN[@]}" --rm localhost/umtest:1 sh -c "$LIST" 2>&1)" \
	"$want1"

# --- the mount while a container runs ----------------------------------------
if cid=$(P "${RUN[@]}" -d localhost/umtest:1 sleep 60 2>&1); then
	merged=$(P inspect --format '{{.GraphDriver.Data.MergedDir}}' "$cid")
	fstype=$(awk -v m="$merged" '$2 == m { print $3 }' /proc/self/mounts)
	if [ "$IMPL" == kernel ]; then
		eq mounts_while_running "$fstype" overlay
	else
		eq mounts_while_running "$fstype" fuse.unionmount
	fi
	inside=$(P exec "$cid" awk '$2 == "/" { print $3 }' /proc/self/mounts)
	eq root_fstype_inside "$inside" "$fstype"
	P rm -f -t 0 "$cid" >/dev/null 2>&1
	eq unmounted_after_rm "$(awk -v m="$merged" '$2 == m' /proc/self/mounts)" ""
else
	fail mounts_while_running "$cid"
fi

# --- write in a container, commit, run the commit --------------------------
# keep/f3, a hard link to a file of a lower layer, must show two links in
# the container; it is removed again before the commit because with a
# mount_program containers-storage computes the layer diff by comparing
# trees ("Native Overlay Diff: false"), sees keep/f2 unchanged and would
# store f3 alone, as a separate file: that is containers-storage, not the
# file system.  nw/nw2, both new, keep their link through the commit.
WRITE='echo w > /data/written && rm -r /data/gone && echo more >> /data/over &&
ln /data/keep/f2 /data/keep/f3 &&
stat -c "%n %h" /data/keep/f2 /data/keep/f3 &&
[ "$(stat -c %i /data/keep/f2)" = "$(stat -c %i /data/keep/f3)" ] &&
rm /data/keep/f3 && stat -c "%n %h" /data/keep/f2 &&
echo nw > /data/nw && ln /data/nw /data/nw2 && chmod 700 /data/l4 &&
mkdir /data/gone && echo back > /data/gone/b'
eq write_in_container "$(P "${RUN[@]}" --name c1 localhost/umtest:1 sh -c \
	"$WRITE; echo rc=\$?" 2>&1)" "/data/keep/f2 2
/data/keep/f3 2
/data/keep/f2 1
rc=0"
want2='. drwxr-xr-x
./gone drwxr-xr-x
./gone/b -rw-r--r-- 1 5 back|
./h -rwsr-xr-x 2 2 h|
./h2 -rwsr-xr-x 2 2 h|
./keep drwxr-x--x
./keep/f2 -rw-r--r-- 1 3 f2|
./l4 drwx------
./l4/x -rw-r--r-- 1 5 four|
./nw -rw-r--r-- 2 3 nw|
./nw2 -rw-r--r-- 2 3 nw|
./over -rw-r--r-- 1 9 new|more|
./written -rw-r--r-- 1 2 w|
h h2: one inode'
if out=$(P commit c1 localhost/umtest:2 2>&1); then
	ok commit
	eq run_committed "$(P "${RUN[@]}" --rm localhost/umtest:2 sh -c \
		"$LIST" 2>&1)" "$want2"
else
	fail commit "$out"
fi
P rm -f c1 >/dev/null 2>&1

# --- nothing left mounted ---------------------------------------------------
eq nothing_mounted "$(mounts_under)" ""

if [ $failed -gt 0 ]; then
	exit 1
fi
exit 0
