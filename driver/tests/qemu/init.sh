#!/bin/busybox sh
# Guest /init for the VFIO proof (driver/tests/vfio_qemu.rs).
# Loads the kernel's VFIO modules, binds QEMU's edu device to vfio-pci and
# runs the driver's VFIO self-test plus `fastpath nic probe` against it.
# Every result line starts with "FASTPATH-QEMU " so the host can parse it
# out of the serial console, whatever the kernel prints around it.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "FASTPATH-QEMU $*"; }
finish() { say "END"; sync; poweroff -f; }

say "BOOTED $(uname -r)"
# Dependency order (modinfo -F depends): irqbypass, vfio_virqfd, vfio, then
# the type1 IOMMU backend and the PCI driver.
for m in irqbypass vfio_virqfd vfio vfio_iommu_type1 vfio-pci-core vfio-pci; do
    if ! insmod /lib/modules/$m.ko; then say "FAIL insmod $m"; finish; fi
done
if [ ! -d /sys/kernel/iommu_groups/0 ]; then
    say "FAIL no IOMMU groups: is intel_iommu=on on the kernel command line?"
    finish
fi

BDF=""
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat $d/vendor)" = "0x1234" ] && [ "$(cat $d/device)" = "0x11e8" ]; then
        BDF=$(basename $d)
    fi
done
if [ -z "$BDF" ]; then say "FAIL no edu device (1234:11e8) on the PCI bus"; finish; fi
say "EDU $BDF"

# The test binary first checks the not-bound error path, then we bind.
/bin/vfio-edu-selftest --expect-unbound "$BDF"

echo vfio-pci > /sys/bus/pci/devices/$BDF/driver_override
echo "$BDF" > /sys/bus/pci/drivers_probe
if [ "$(basename "$(readlink /sys/bus/pci/devices/$BDF/driver)")" != "vfio-pci" ]; then
    say "FAIL binding $BDF to vfio-pci"; finish
fi
say "BOUND $BDF vfio-pci group $(basename "$(readlink /sys/bus/pci/devices/$BDF/iommu_group)")"

/bin/vfio-edu-selftest "$BDF"
say "SELFTEST-EXIT $?"
# IOMMU faults the self-test provoked (DMA from an unmapped IOVA).
dmesg | grep -i "DMAR" | grep -i "fault" | sed 's/^/FASTPATH-QEMU DMAR /'

/bin/fastpath nic probe --device "$BDF" > /tmp/probe.out 2>&1
rc=$?
sed 's/^/FASTPATH-QEMU PROBE-OUT /' /tmp/probe.out
say "PROBE-EXIT $rc"

# ivshmem-plain (1af4:1110), when present: its BAR2 is a host file holding a
# fastpath capability block, so `nic probe` must succeed and print it.
SHM=""
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat $d/vendor)" = "0x1af4" ] && [ "$(cat $d/device)" = "0x1110" ]; then
        SHM=$(basename $d)
    fi
done
if [ -n "$SHM" ]; then
    # First through sysfs resource2, with no driver of ours bound (as beside
    # a shell's netdev driver); then the same BAR through VFIO.
    /bin/fastpath nic probe --device "sysfs:$SHM" --bar 2 --json > /tmp/sysfs.out 2>&1
    rc=$?
    sed 's/^/FASTPATH-QEMU SYSFS-OUT /' /tmp/sysfs.out
    say "SYSFS-EXIT $rc"
    echo vfio-pci > /sys/bus/pci/devices/$SHM/driver_override
    echo "$SHM" > /sys/bus/pci/drivers_probe
    /bin/fastpath nic probe --device "$SHM" --bar 2 --json > /tmp/shm.out 2>&1
    rc=$?
    sed 's/^/FASTPATH-QEMU SHM-OUT /' /tmp/shm.out
    say "SHM-EXIT $rc"
    /bin/fastpath nic probe --device "/sys/bus/pci/devices/$SHM" --bar 2 > /tmp/shm.out 2>&1
    rc=$?
    sed 's/^/FASTPATH-QEMU SHM-TEXT /' /tmp/shm.out
    say "SHM-TEXT-EXIT $rc"
    # Last: program tables through the Nic API; the host reads the writes
    # back from the BAR's backing file.
    /bin/vfio-edu-selftest --fastpath-image "$SHM" 2
    say "IMAGE-EXIT $?"
fi
finish
