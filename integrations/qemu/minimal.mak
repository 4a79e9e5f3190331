# Minimal x86_64 device set for the libviommu end-to-end tests
# (used with --without-default-devices --with-devices-x86_64=viommu-minimal).
CONFIG_Q35=y
CONFIG_VTD=y
CONFIG_AMD_IOMMU=y
CONFIG_PCI_DEVICES=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_IOMMU=y
CONFIG_TEST_DEVICES=y
CONFIG_EDU=y
# endpoints behind bridges / root ports (requester IDs beyond bus 0)
CONFIG_PCI_BRIDGE=y
CONFIG_PCIE_PORT=y
