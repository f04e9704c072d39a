#!/bin/bash
# Boots a QEMU guest (software emulation, emulated Intel IOMMU, QEMU's `edu`
# PCI device) with a busybox initramfs holding the given binaries and the
# kernel's VFIO modules, runs tests/qemu/init.sh as /init and prints the
# serial console on stdout. Used by driver/tests/vfio_qemu.rs.
#
# usage: run-guest.sh WORKDIR BINARY...
# env:   FASTPATH_QEMU_KERNEL  kernel image   (default: newest /boot/vmlinuz-*)
#        FASTPATH_QEMU_TIMEOUT seconds        (default: 180)
#        FASTPATH_QEMU_SHM     file (1 MiB) backing an ivshmem-plain device's
#                              BAR2: a register window image for `nic probe`
# Needs (Debian): qemu-system-x86 busybox-static linux-image-amd64 cpio; install
#        with INITRD=No apt-get install -y --no-install-recommends ... (the
#        guest uses its own initramfs, so the host's update-initramfs is wasted).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$1; shift
timeout_s=${FASTPATH_QEMU_TIMEOUT:-180}
kernel=${FASTPATH_QEMU_KERNEL:-$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)}
[ -n "$kernel" ] && [ -r "$kernel" ] || { echo "run-guest: no readable kernel image (/boot/vmlinuz-*; apt-get install linux-image-amd64)" >&2; exit 2; }
kver=${kernel#*/vmlinuz-}
moddir=/lib/modules/$kver/kernel
[ -d "$moddir" ] || { echo "run-guest: no modules for $kver at $moddir" >&2; exit 2; }
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "run-guest: busybox not found (apt-get install busybox-static)" >&2; exit 2; }
# ldd fails on a static binary; a dynamic busybox would not run in the guest.
if ldd "$busybox" >/dev/null 2>&1; then echo "run-guest: $busybox is not static (apt-get install busybox-static)" >&2; exit 2; fi

root=$work/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules,lib64}
cp "$busybox" "$root/bin/busybox"
cp "$here/init.sh" "$root/init"
chmod +x "$root/init"

# VFIO modules (uncompressed .ko in Debian 12; decompress .ko.xz/.ko.zst if present).
for m in virt/lib/irqbypass drivers/vfio/vfio_virqfd drivers/vfio/vfio \
         drivers/vfio/vfio_iommu_type1 drivers/vfio/pci/vfio-pci-core drivers/vfio/pci/vfio-pci; do
    name=$(basename "$m")
    if [ -f "$moddir/$m.ko" ]; then cp "$moddir/$m.ko" "$root/lib/modules/$name.ko"
    elif [ -f "$moddir/$m.ko.xz" ]; then xz -dc "$moddir/$m.ko.xz" > "$root/lib/modules/$name.ko"
    elif [ -f "$moddir/$m.ko.zst" ]; then zstd -qdc "$moddir/$m.ko.zst" > "$root/lib/modules/$name.ko"
    else echo "run-guest: module $m not found under $moddir" >&2; exit 2; fi
done

# Binaries and the shared libraries they need (the glibc target cannot link
# fully static without rebuilding std, and the musl target is not installed).
for b in "$@"; do
    cp "$b" "$root/bin/"
    { ldd "$b" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
done

( cd "$root" && find . | cpio -o -H newc --quiet ) > "$work/initramfs.cpio"

# accel=tcg: there is no KVM here. kernel-irqchip=split is what intel-iommu's
# interrupt remapping wants under KVM; under TCG the irqchip is QEMU's own.
# no_timer_check: on a loaded host the emulated CPU can be too slow for the
# kernel's "timer works through the IO-APIC" check, which then panics
# ("timer doesn't work through Interrupt-remapped IO-APIC"); the timer does
# work, the check only races the host's scheduler.
shm=()
if [ -n "${FASTPATH_QEMU_SHM:-}" ]; then
    shm=(-object "memory-backend-file,id=fpshm,share=on,mem-path=$FASTPATH_QEMU_SHM,size=1M"
         -device ivshmem-plain,memdev=fpshm)
fi

exec timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 \
    -machine q35,accel=tcg -cpu max -m 512M -smp 1 \
    -device intel-iommu,intremap=on \
    -device edu -nic none "${shm[@]}" \
    -kernel "$kernel" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 intel_iommu=on iommu=pt no_timer_check quiet loglevel=3 panic=-1" \
    -nographic -no-reboot -serial stdio -monitor none -display none
