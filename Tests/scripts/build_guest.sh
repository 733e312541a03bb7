#!/usr/bin/env bash
# Builds the QEMU test guest from Debian packages: the kernel of `linux-image-amd64` (booted
# with -kernel) and a busybox initramfs whose init loads the virtio and pvpanic modules, runs a
# load (cpu spinners, memory dirtying, a memory hog) set on the kernel command line and writes a
# heartbeat line to its second serial port every second. Cached: a second run
# with the same script and kernel does nothing.
#
# usage: Tests/scripts/build_guest.sh [DIR]   (default $POOLSWAP_GUEST_DIR or /var/cache/poolswap/guest)
#
# Guest kernel command line: poolswap.cpu=N (N spinning shells), poolswap.dirty=W:R (rewrite R
# MiB a second of a W MiB working set in tmpfs), poolswap.hog=M (ask for M MiB, in four parts, every 0.3 s).
# Heartbeat on ttyS1, once a second: `hb SEQ UPTIME cpus=ONLINE used=KIB oom=N stall=N` (OOM
# kills and direct-reclaim stalls so far). An NMI (QMP inject-nmi) panics the guest.
set -euo pipefail
out=${1:-${POOLSWAP_GUEST_DIR:-/var/cache/poolswap/guest}}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "build_guest: needs a static busybox at $busybox (apt-get install busybox-static)" >&2; exit 1; }
stamp=$( (cat "$0"; apt-cache policy linux-image-amd64 2>/dev/null | sed -n 2,3p) | sha256sum | cut -c1-16)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ]; then
    echo "guest in $out is current"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"
image=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$image" ] || { echo "build_guest: apt-cache does not know linux-image-amd64 (apt-get update?)" >&2; exit 1; }
apt-get download "$image" >/dev/null 2>&1 || { echo "build_guest: could not download $image" >&2; exit 1; }
dpkg-deb -x "$image"_*.deb kernel
release=$(ls kernel/lib/modules)
modules=kernel/lib/modules/$release/kernel

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules,dev/shm}
cp "$busybox" "$root/bin/busybox"
for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_pci_legacy_dev \
         drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/virtio/virtio_balloon \
         drivers/misc/pvpanic/pvpanic drivers/misc/pvpanic/pvpanic-mmio; do
    src=$modules/$m.ko
    [ -f "$src" ] || { [ -f "$src.xz" ] && xz -dc "$src.xz" > "$work/$(basename "$m").ko" && src=$work/$(basename "$m").ko; }
    [ -f "$src" ] || { echo "build_guest: $m.ko not in $image" >&2; exit 1; }
    cp "$src" "$root/lib/modules/$(basename "$m").ko"
done

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm && mount -t tmpfs -o size=90% tmpfs /dev/shm
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_balloon pvpanic pvpanic-mmio; do
    insmod /lib/modules/$m.ko 2>/dev/null || echo "init: $m did not load"
done
# An NMI from the host (QMP inject-nmi) panics the guest: how tests break a guest.
echo 1 > /proc/sys/kernel/unknown_nmi_panic
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^poolswap\.$1=//p"; }

# Load: N spinners (niced, so the heartbeat always runs), a dirtied working set (non-zero
# pages, which migration cannot skip), a hog that asks for M MiB again and again.
c=$(arg cpu); n=0
while [ $n -lt "${c:-0}" ]; do sh -c 'while :; do :; done' & renice -n 19 -p $! >/dev/null; n=$((n + 1)); done
d=$(arg dirty)
if [ -n "$d" ] && [ "${d%%:*}" -gt 0 ] && [ "${d##*:}" -gt 0 ]; then
    W=${d%%:*}; R=${d##*:}
    # Two random sources, one per lap: every rewrite changes what the page holds, as real
    # writes do (QEMU's calc-dirty-rate samples pages' contents, not writes).
    dd if=/dev/urandom of=/dev/shm/src0 bs=1M count="$R" 2>/dev/null
    dd if=/dev/urandom of=/dev/shm/src1 bs=1M count="$R" 2>/dev/null
    i=0
    while [ $i -lt "$W" ]; do dd if=/dev/shm/src0 of=/dev/shm/ws bs=1M seek=$i count="$R" conv=notrunc 2>/dev/null; i=$((i + R)); done
    (
        i=0; lap=1
        while :; do
            [ $((i + R)) -gt "$W" ] && i=0 && lap=$((1 - lap))
            dd if=/dev/shm/src$lap of=/dev/shm/ws bs=1M seek=$i count="$R" conv=notrunc 2>/dev/null
            i=$((i + R))
            sleep 1
        done
    ) &
fi
h=$(arg hog)
# Four at a time, a quarter each: one request larger than the guest is refused outright.
if [ -n "$h" ] && [ "$h" -ge 4 ]; then
    for q in 1 2 3 4; do (while :; do dd if=/dev/zero of=/dev/null bs="$((h / 4))M" count=1 2>/dev/null; sleep 0.3; done) & done
fi

# Heartbeat on ttyS1 once a second, from shell builtins only (cheap under a tight quota):
# hb SEQ UPTIME cpus=ONLINE used=KIB oom=KILLS stall=RECLAIM_STALLS
seq=0
while :; do
    # Hot-added cpus come up offline with no udev to online them.
    cpus=1
    for f in /sys/devices/system/cpu/cpu[0-9]*/online; do
        [ -f "$f" ] || continue
        read -r on < "$f"
        [ "$on" = 0 ] && echo 1 > "$f" 2>/dev/null && on=1
        [ "$on" = 1 ] && cpus=$((cpus + 1))
    done
    total=0; avail=0
    while read -r k v u; do
        case $k in MemTotal:) total=$v ;; MemAvailable:) avail=$v ;; esac
    done < /proc/meminfo
    oom=0; stall=0
    while read -r k v; do
        case $k in oom_kill) oom=$v ;; allocstall_*) stall=$((stall + v)) ;; esac
    done < /proc/vmstat
    read -r up idle < /proc/uptime
    seq=$((seq + 1))
    echo "hb $seq $up cpus=$cpus used=$((total - avail)) oom=$oom stall=$stall" > /dev/ttyS1
    sleep 1
done
INIT
chmod +x "$root/init"
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -9) > "$out/initramfs.cpio.gz.tmp"
cp kernel/boot/vmlinuz-"$release" "$out/vmlinuz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$stamp" > "$out/stamp"
echo "guest built in $out: kernel $release, initramfs $(du -h "$out/initramfs.cpio.gz" | cut -f1)"
