/* SPDX-License-Identifier: MIT */
/*
 * irfault: make a device send an interrupt through a remapping-table entry
 * the guest never set up (the e2e guest's `irfault` job).
 *
 * Usage: irfault BDF GROUP vtd|amdvi
 *
 * The device (QEMU's `edu`, bound to vfio-pci) gets one MSI through VFIO,
 * so the guest's IOMMU driver allocates and programs its interrupt
 * remapping entry (VT-d IRTE / AMD-Vi DTE interrupt table + IRTE).  One
 * interrupt is raised through that entry and must arrive (the eventfd
 * fires).  Then the MSI capability is rewritten, through sysfs, to name an
 * entry that is not present (VT-d: a handle far above the ones Linux has
 * used; AMD-Vi: an offset inside the device's table that is not in use)
 * and the interrupt is raised again: the IOMMU must block it and report
 * the fault, which the guest's driver logs.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

#define EDU_RAISE 0x60     /* edu: raise interrupt (value ORed into status) */
#define EDU_ACK 0x64       /* edu: acknowledge (clear status bits) */
#define VTD_BAD_HANDLE 0x4321u
#define AMDVI_BAD_OFFSET 0x50u

static int die(const char *what)
{
    perror(what);
    printf("irfault: FAIL %s\n", what);
    return 1;
}

static int cfg_rw(int fd, int wr, unsigned off, void *v, size_t n)
{
    ssize_t r = wr ? pwrite(fd, v, n, off) : pread(fd, v, n, off);
    return r == (ssize_t)n ? 0 : -1;
}

/* Offset of the MSI capability (ID 05h), 0 if none. */
static unsigned msi_cap(int cfd)
{
    uint8_t p = 0, id = 0;
    int n = 0;

    if (cfg_rw(cfd, 0, 0x34, &p, 1)) {
        return 0;
    }
    while (p && n++ < 48) {
        if (cfg_rw(cfd, 0, p, &id, 1)) {
            return 0;
        }
        if (id == 0x05) {
            return p;
        }
        if (cfg_rw(cfd, 0, p + 1u, &p, 1)) {
            return 0;
        }
    }
    return 0;
}

static int wait_irq(int efd, int ms)
{
    struct pollfd pf = { .fd = efd, .events = POLLIN };
    uint64_t cnt;

    if (poll(&pf, 1, ms) != 1 || read(efd, &cnt, sizeof(cnt)) != sizeof(cnt)) {
        return 0;
    }
    return (int)cnt;
}

int main(int argc, char **argv)
{
    struct vfio_group_status gs = { .argsz = sizeof(gs) };
    struct vfio_region_info bar0 = { .argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX };
    char path[128], buf[sizeof(struct vfio_irq_set) + sizeof(int)];
    struct vfio_irq_set *irqs = (struct vfio_irq_set *)buf;
    int container, group, dev, efd, cfd, vtd;
    uint16_t ctrl, cmd;
    uint32_t addr, data, one = 1, got;
    unsigned cap, doff;

    if (argc != 4) {
        fprintf(stderr, "usage: irfault BDF GROUP vtd|amdvi\n");
        return 2;
    }
    vtd = strcmp(argv[3], "vtd") == 0;
    container = open("/dev/vfio/vfio", O_RDWR);
    snprintf(path, sizeof(path), "/dev/vfio/%s", argv[2]);
    group = open(path, O_RDWR);
    if (container < 0 || group < 0) {
        return die("open vfio");
    }
    if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        return die("group not viable");
    }
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
        ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)) {
        return die("vfio container");
    }
    dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[1]);
    if (dev < 0 || ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar0)) {
        return die("vfio device");
    }
    /* One MSI, signalled on an eventfd: the IOMMU driver sets up its entry. */
    efd = eventfd(0, 0);
    memset(buf, 0, sizeof(buf));
    irqs->argsz = sizeof(buf);
    irqs->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    irqs->index = VFIO_PCI_MSI_IRQ_INDEX;
    irqs->start = 0;
    irqs->count = 1;
    memcpy(irqs->data, &efd, sizeof(efd));
    if (efd < 0 || ioctl(dev, VFIO_DEVICE_SET_IRQS, irqs)) {
        return die("VFIO_DEVICE_SET_IRQS (MSI)");
    }
    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", argv[1]);
    cfd = open(path, O_RDWR);
    cap = cfd < 0 ? 0 : msi_cap(cfd);
    if (!cap || cfg_rw(cfd, 0, cap + 2, &ctrl, 2) || cfg_rw(cfd, 0, cap + 4, &addr, 4)) {
        return die("MSI capability");
    }
    doff = cap + ((ctrl & 0x80) ? 0xc : 0x8);
    if (cfg_rw(cfd, 0, doff, &data, 4)) {
        return die("MSI data");
    }
    /* Bus Master Enable (command bit 2): a device's MSI is a DMA write. */
    if (cfg_rw(cfd, 0, 4, &cmd, 2)) {
        return die("command register");
    }
    cmd |= 4;
    if (cfg_rw(cfd, 1, 4, &cmd, 2)) {
        return die("command register");
    }
    printf("irfault: MSI as the guest set it: addr=0x%08x data=0x%04x\n", addr, data & 0xffff);
    /* Through the entry the driver set up: must arrive. */
    if (pwrite(dev, &one, 4, bar0.offset + EDU_RAISE) != 4) {
        return die("raise");
    }
    got = (uint32_t)wait_irq(efd, 3000);
    printf("irfault: interrupt through the guest's entry: %s\n", got ? "delivered" : "LOST");
    pwrite(dev, &one, 4, bar0.offset + EDU_ACK);
    if (vtd) {
        addr = 0xfee00000u | (VTD_BAD_HANDLE & 0x7fff) << 5 | 1u << 4 | 1u << 3 |
               (VTD_BAD_HANDLE >> 15) << 2;
        data = 0;
        printf("irfault: now handle 0x%x (not present): addr=0x%08x data=0\n", VTD_BAD_HANDLE,
               addr);
    } else {
        data = (data & ~0x7ffu) | AMDVI_BAD_OFFSET;
        printf("irfault: now IRTE offset 0x%x (not set up): data=0x%04x\n", AMDVI_BAD_OFFSET,
               data & 0xffff);
    }
    if (cfg_rw(cfd, 1, cap + 4, &addr, 4) || cfg_rw(cfd, 1, doff, &data, 4)) {
        return die("rewrite MSI");
    }
    if (pwrite(dev, &one, 4, bar0.offset + EDU_RAISE) != 4) {
        return die("raise");
    }
    got = (uint32_t)wait_irq(efd, 1000);
    printf("irfault: interrupt through the bad entry: %s\n",
           got ? "DELIVERED (not blocked)" : "blocked");
    pwrite(dev, &one, 4, bar0.offset + EDU_ACK);
    return got ? 1 : 0;
}
