/* SPDX-License-Identifier: MIT */
/**
 * @file virtio_iommu.h
 * @brief virtio-iommu device model (virtio 1.3, section "IOMMU device",
 *        device ID 23) and the ACPI VIOT table builder.
 *
 * The model is transport-neutral: the VMM owns virtio-pci or virtio-mmio,
 * the virtqueues and feature negotiation. It hands every request of the
 * request queue to viommu_virtio_handle_request() as the device-readable and
 * device-writable segments of one descriptor chain, forwards config-space
 * accesses, tells the device which features the driver accepted, and fills
 * event-queue buffers with viommu_virtio_pop_fault().
 *
 * Endpoints are registered by the VMM (viommu_virtio_add_endpoint()); each
 * gets an address space (as.h) that the VMM uses for translate() of emulated
 * DMA and on which it registers notifiers for assigned devices (VFIO,
 * iommufd). Domains are core mapping domains: MAP/UNMAP requests reach every
 * endpoint attached to the domain as notifier events.
 *
 * ## Threading
 * Every function locks the context of the device (see ctx.h). None may be
 * called from a libviommu callback of the same context (::VIOMMU_EBUSY).
 * Callbacks invoked: notifier callbacks (handle_request, set_driver_features,
 * config_write, reset, remove_endpoint, destroy does not notify), the
 * optional viommu_virtio_config::fault_notify (from translate of an endpoint's
 * address space).
 */
#ifndef LIBVIOMMU_VIRTIO_IOMMU_H
#define LIBVIOMMU_VIRTIO_IOMMU_H

#include <libviommu/acpi.h>
#include <libviommu/as.h>
#include <libviommu/ctx.h>
#include <libviommu/error.h>
#include <libviommu/export.h>
#include <libviommu/types.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief virtio device ID of the IOMMU device. */
#define VIOMMU_VIRTIO_DEVICE_ID 23u

/** @brief Feature bits (virtio 1.3, "IOMMU Device / Feature bits"), as bit numbers. */
enum viommu_virtio_feature {
    VIOMMU_VIRTIO_F_INPUT_RANGE = 0,   /**< input_range is valid. */
    VIOMMU_VIRTIO_F_DOMAIN_RANGE = 1,  /**< domain_range is valid. */
    VIOMMU_VIRTIO_F_MAP_UNMAP = 2,     /**< MAP and UNMAP requests. */
    VIOMMU_VIRTIO_F_BYPASS = 3,        /**< Unattached endpoints bypass (legacy). */
    VIOMMU_VIRTIO_F_PROBE = 4,         /**< PROBE request. */
    VIOMMU_VIRTIO_F_MMIO = 5,          /**< MAP flag MMIO. */
    VIOMMU_VIRTIO_F_BYPASS_CONFIG = 6, /**< Config field bypass, ATTACH flag BYPASS. */
};

/** @brief Mask of one feature bit. */
#define VIOMMU_VIRTIO_FEATURE(bit) (UINT64_C(1) << (bit))
/** @brief Every feature bit this model knows. */
#define VIOMMU_VIRTIO_FEATURES_ALL UINT64_C(0x7f)
/** @brief Features offered when viommu_virtio_config::features is 0. */
#define VIOMMU_VIRTIO_FEATURES_DEFAULT                                                                      \
    (VIOMMU_VIRTIO_FEATURE(VIOMMU_VIRTIO_F_INPUT_RANGE) | VIOMMU_VIRTIO_FEATURE(VIOMMU_VIRTIO_F_DOMAIN_RANGE) | \
     VIOMMU_VIRTIO_FEATURE(VIOMMU_VIRTIO_F_MAP_UNMAP) | VIOMMU_VIRTIO_FEATURE(VIOMMU_VIRTIO_F_PROBE) |         \
     VIOMMU_VIRTIO_FEATURE(VIOMMU_VIRTIO_F_MMIO) | VIOMMU_VIRTIO_FEATURE(VIOMMU_VIRTIO_F_BYPASS_CONFIG))

/** @brief Size in bytes of the device configuration space (struct virtio_iommu_config). */
#define VIOMMU_VIRTIO_CONFIG_LEN 40u
/** @brief Size in bytes of one event-queue fault record (struct virtio_iommu_fault). */
#define VIOMMU_VIRTIO_FAULT_LEN 24u
/** @brief Size in bytes of one RESV_MEM probe property (header included). */
#define VIOMMU_VIRTIO_RESV_PROP_LEN 24u

/** @brief Reserved-region subtypes (PROBE property RESV_MEM). */
enum viommu_virtio_resv_subtype {
    VIOMMU_VIRTIO_RESV_RESERVED = 0, /**< Cannot be mapped. */
    VIOMMU_VIRTIO_RESV_MSI = 1,      /**< MSI doorbell; cannot be mapped. */
};

/** @brief Flags of viommu_virtio_reset(). */
enum viommu_virtio_reset_flag {
    /** System reset: also restore config field `bypass` to its initial value
     *  (a device reset keeps it, as the spec recommends). */
    VIOMMU_VIRTIO_RESET_SYSTEM = 1u << 0,
};

/** @brief viommu_fault::code of a fault with reason ::VIOMMU_FAULT_BLOCKED. */
enum viommu_virtio_block_code {
    /** The endpoint is attached to no domain (and bypass is off): the
     *  device reports such a fault as VIRTIO_IOMMU_FAULT_R_DOMAIN. */
    VIOMMU_VIRTIO_BLOCK_UNATTACHED = 1,
};

/** @brief One scatter-gather segment of a descriptor chain (host memory). */
struct viommu_iovec {
    void *base; /**< Host pointer to the segment (may be NULL only if `len` is 0). */
    size_t len; /**< Length in bytes. */
};

/** @brief Device configuration. Zero-initialise, set `size`, change what you need. */
struct viommu_virtio_config {
    size_t size;             /**< sizeof(struct viommu_virtio_config). */
    uint64_t features;       /**< Offered features (VIOMMU_VIRTIO_FEATURE() bits); 0 = VIOMMU_VIRTIO_FEATURES_DEFAULT. */
    uint64_t page_size_mask; /**< Supported page sizes; lowest bit = granule. 0 = 4 KiB only. */
    uint64_t input_first;    /**< input_range.start. */
    uint64_t input_last;     /**< input_range.end; input_first == input_last == 0 means the whole 64-bit space. */
    uint32_t domain_first;   /**< domain_range.start. */
    uint32_t domain_last;    /**< domain_range.end; both 0 means 0 .. UINT32_MAX. */
    uint32_t probe_size;     /**< probe_size (bytes of PROBE properties); 0 = 512. */
    uint8_t bypass;          /**< Initial config field bypass (0 or 1; 1 needs BYPASS_CONFIG offered). */
    uint8_t reserved[3];     /**< Zero. */
    uint32_t max_domains;    /**< Cap on live domains (ATTACH beyond it: S_NOMEM); 0 = 65536. */
    uint32_t fault_queue_depth; /**< Fault records kept until popped; 0 = 64; at most 65536. */
    uint64_t max_mappings;   /**< Cap on mappings per domain (MAP beyond it: S_NOMEM); 0 = context budget as_mappings. */
    uint64_t gpa_last;       /**< Last valid guest-physical address for MAP (beyond: S_FAULT); 0 = no limit. */
    /** Called (context lock held) when a fault record was queued; may be NULL.
     *  It must not call into the context; typically it kicks the VMM's event loop. */
    void (*fault_notify)(void *opaque);
    void *opaque; /**< Passed to fault_notify. */
};

/** @brief Counters of one device. */
struct viommu_virtio_stats {
    uint64_t requests;       /**< Requests handled (all types). */
    uint64_t attach;         /**< ATTACH requests. */
    uint64_t detach;         /**< DETACH requests. */
    uint64_t map;            /**< MAP requests. */
    uint64_t unmap;          /**< UNMAP requests. */
    uint64_t probe;          /**< PROBE requests. */
    uint64_t failed;         /**< Requests answered with a status other than S_OK. */
    uint64_t unanswered;     /**< Requests returned without writing (unknown type, no room for the tail). */
    uint64_t faults;         /**< Fault records produced. */
    uint64_t faults_dropped; /**< Fault records dropped because the queue was full. */
    uint64_t faults_popped;  /**< Fault records handed to the VMM. */
    uint64_t domains;        /**< Domains currently live. */
    uint64_t config_writes_ignored; /**< Config writes that the spec does not allow (ignored). */
};

/** @brief Opaque virtio-iommu device. */
struct viommu_virtio;

/**
 * @brief Create a virtio-iommu device in a context.
 * @param ctx Context.
 * @param cfg Configuration (copied), or NULL for defaults.
 * @param[out] out New device.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `ctx`/`out`; `bypass` > 1 or 1 without BYPASS_CONFIG offered;
 *         both BYPASS and BYPASS_CONFIG offered (spec: SHOULD NOT); non-zero reserved.
 * @retval VIOMMU_ESIZE `cfg->size` too small.
 * @retval VIOMMU_EFLAGS Unknown feature bits.
 * @retval VIOMMU_ERANGE Empty input or domain range; `probe_size` below one RESV_MEM property;
 *         `fault_queue_depth` above 65536.
 * @retval VIOMMU_ENOMEM Allocation failed (nothing left allocated).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_create(struct viommu_ctx *ctx, const struct viommu_virtio_config *cfg,
                                    struct viommu_virtio **out);

/**
 * @brief Destroy a device, its endpoints' address spaces (with their
 *        notifiers, no events) and its domains. A refused call changes nothing.
 * @param dev Device or NULL (no-op, returns 0).
 * @retval 0 Destroyed (or `dev` was NULL).
 * @retval VIOMMU_EBUSY Called from a callback of the device's context.
 */
VIOMMU_API int viommu_virtio_destroy(struct viommu_virtio *dev);

/**
 * @brief Register an endpoint and create its address space (kind
 *        ::VIOMMU_AS_VIRTIO). The endpoint starts unattached: passthrough if
 *        the bypass rules say so, else blocked.
 * @param dev Device.
 * @param endpoint Endpoint ID.
 * @param[out] as The endpoint's address space (owned by the device), may be NULL.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `dev`.
 * @retval VIOMMU_EEXIST The endpoint exists (in this device or, as an address space, in the context).
 * @retval VIOMMU_ENOMEM Allocation failed.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_add_endpoint(struct viommu_virtio *dev, uint32_t endpoint, struct viommu_as **as);

/**
 * @brief Unregister an endpoint (hot unplug): detach it (its domain dies if
 *        it was the last endpoint) and destroy its address space.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_ENOENT Unknown endpoint.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_remove_endpoint(struct viommu_virtio *dev, uint32_t endpoint);

/**
 * @brief Address space of an endpoint.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument. @retval VIOMMU_ENOENT Unknown endpoint.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_get_as(struct viommu_virtio *dev, uint32_t endpoint, struct viommu_as **as);

/**
 * @brief Add a reserved region `[first, last]` reported by PROBE (RESV_MEM)
 *        for one endpoint; MAP requests overlapping it (in a domain the
 *        endpoint is attached to) are rejected with S_INVAL.
 * @param dev Device.
 * @param endpoint Endpoint ID.
 * @param first First IOVA. @param last Last IOVA (inclusive).
 * @param subtype enum viommu_virtio_resv_subtype.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `dev`; unknown `subtype`.
 * @retval VIOMMU_ENOENT Unknown endpoint.
 * @retval VIOMMU_ERANGE `first > last`.
 * @retval VIOMMU_EEXIST Overlaps another region of the endpoint, or a second MSI region.
 * @retval VIOMMU_ESIZE The properties would no longer fit in probe_size.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_add_resv(struct viommu_virtio *dev, uint32_t endpoint, uint64_t first, uint64_t last,
                                      unsigned subtype);

/**
 * @brief Features the device offers.
 * @param dev Device. @param[out] features Offered feature bits.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument.
 */
VIOMMU_API int viommu_virtio_get_features(struct viommu_virtio *dev, uint64_t *features);

/**
 * @brief Tell the device which features the driver accepted (at FEATURES_OK).
 *        Unattached endpoints switch between bypass and blocked accordingly.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `dev`.
 * @retval VIOMMU_EFLAGS `accepted` is not a subset of the offered features (nothing changed).
 * @retval VIOMMU_ESINK A notifier failed while switching endpoints (state still switched).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_set_driver_features(struct viommu_virtio *dev, uint64_t accepted);

/**
 * @brief Read device configuration space bytes (little-endian layout of
 *        struct virtio_iommu_config, ::VIOMMU_VIRTIO_CONFIG_LEN bytes).
 * @param dev Device. @param offset Byte offset. @param[out] buf Destination. @param len Bytes.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument.
 * @retval VIOMMU_ERANGE `offset + len` beyond the config space.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_config_read(struct viommu_virtio *dev, uint32_t offset, void *buf, size_t len);

/**
 * @brief Guest write to configuration space. Only `bypass` (offset 36) is
 *        writable and only when BYPASS_CONFIG was negotiated; bit 0 is used.
 *        Other writes are ignored (counted in config_writes_ignored).
 * @retval 0 Success (also when ignored).
 * @retval VIOMMU_EINVAL NULL argument. @retval VIOMMU_ERANGE Beyond the config space.
 * @retval VIOMMU_ESINK A notifier failed while switching endpoints (state still switched).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_config_write(struct viommu_virtio *dev, uint32_t offset, const void *buf, size_t len);

/**
 * @brief Handle one request of the request queue.
 *
 * `in` are the device-readable segments (head and request body), `out` the
 * device-writable ones (tail, or PROBE properties and tail). A request may be
 * split across segments at any byte. The device writes the tail (and PROBE
 * properties) and reports the bytes written, to be used as the used length.
 * `*written == 0` means the device returns the buffers unwritten (unknown
 * request type, PROBE not offered, no room for the tail), as the spec says.
 * @param dev Device.
 * @param in Readable segments. @param nin Count.
 * @param out Writable segments. @param nout Count.
 * @param[out] written Bytes written into `out`.
 * @retval 0 Request handled (its status is in the tail).
 * @retval VIOMMU_EINVAL NULL argument, or a segment with NULL base and non-zero length.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_handle_request(struct viommu_virtio *dev, const struct viommu_iovec *in, unsigned nin,
                                            const struct viommu_iovec *out, unsigned nout, size_t *written);

/**
 * @brief Take the oldest queued fault record, encoded as struct
 *        virtio_iommu_fault (::VIOMMU_VIRTIO_FAULT_LEN bytes), to put in an
 *        event-queue buffer.
 * @param dev Device. @param[out] buf Buffer. @param len Its size.
 * @param[out] written Bytes written (0 when no fault is queued).
 * @retval 0 Success (record written, or queue empty with `*written` 0).
 * @retval VIOMMU_EINVAL NULL argument.
 * @retval VIOMMU_ESIZE `len` below ::VIOMMU_VIRTIO_FAULT_LEN (record kept).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_pop_fault(struct viommu_virtio *dev, void *buf, size_t len, size_t *written);

/**
 * @brief Device reset (or system reset with ::VIOMMU_VIRTIO_RESET_SYSTEM):
 *        every endpoint detached, every domain and mapping destroyed,
 *        negotiated features cleared, queued faults discarded. Notifiers get
 *        UNMAP for what they hold and a MODE event.
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL. @retval VIOMMU_EFLAGS Unknown flags.
 * @retval VIOMMU_ESINK A notifier failed (reset still done).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_reset(struct viommu_virtio *dev, unsigned flags);

/**
 * @brief Save the device state (live migration) into a versioned blob
 *        (docs/migration.md, device kind 1): the guest-visible configuration
 *        (for the compatibility check), negotiated features, config field
 *        bypass, queued fault records, every domain with all its mappings,
 *        and every endpoint's attachment. Endpoints themselves, their
 *        reserved regions and counters are not saved (VMM configuration:
 *        the destination VMM adds the same endpoints and regions before
 *        restoring).
 *
 * The size depends on the number of mappings: a size query followed by a
 * save is exact only if no request is handled in between (the VMM stops the
 * request queue before saving).
 * @param dev Device.
 * @param[out] buf Destination (may be NULL when `*len` is 0).
 * @param[in,out] len In: size of `buf`. Out: size of the blob (also on
 *        ::VIOMMU_ESIZE, so a NULL/0 call asks for the size).
 * @retval 0 Success, `*len` bytes written.
 * @retval VIOMMU_EINVAL NULL `dev`/`len`, or NULL `buf` with a non-zero `*len`.
 * @retval VIOMMU_ESIZE `*len` too small; the needed size is in `*len`.
 * @retval VIOMMU_ERANGE The blob would exceed 4 GiB (format limit).
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; invokes no callback.
 */
VIOMMU_API int viommu_virtio_save(struct viommu_virtio *dev, void *buf, size_t *len);

/**
 * @brief Restore a state saved by viommu_virtio_save(), typically into a
 *        freshly created device on the migration destination to which the
 *        VMM already added the source's endpoints (and reserved regions).
 *
 * The blob is checked completely and the new domains are built with their
 * mappings before anything changes: magic, version, kind, length, CRC,
 * section framing; same offered features, page sizes, input and domain
 * ranges and probe size as this device; negotiated features a subset of
 * the offered ones; every mapping obeying the MAP rules of this device
 * (granule, input range, gpa_last, sorted and disjoint, no overlap with an
 * attached endpoint's reserved regions); at most `max_domains` domains,
 * `max_mappings` mappings per domain and `fault_queue_depth` fault records;
 * every endpoint named known to this device; every domain attached to at
 * least one endpoint. Then the old domains are replaced, every endpoint is
 * switched to its restored domain (or unattached: bypass or blocked by the
 * restored features and bypass field) and the fault queue is loaded.
 * Notifiers registered on the endpoints' address spaces receive exactly the
 * MAP/UNMAP/MODE events that make their shadows equal to the restored
 * mappings. Endpoints of this device that the blob does not name end up
 * unattached. fault_notify is not called for restored records.
 * @param dev Device.
 * @param buf Blob. @param len Its length.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `dev`, or NULL `buf` with non-zero `len`.
 * @retval VIOMMU_EFORMAT Malformed, corrupted, truncated, wrong version or
 *         kind, or not representable in this device (nothing changed).
 * @retval VIOMMU_ENOMEM Allocation failed while building the domains
 *         (nothing changed).
 * @retval VIOMMU_ESINK, VIOMMU_EBUDGET A notifier failed while switching an
 *         endpoint (the state is restored anyway).
 * @retval VIOMMU_EBUSY Called from a callback.
 * @note Takes the context lock; invokes notifier callbacks.
 */
VIOMMU_API int viommu_virtio_restore(struct viommu_virtio *dev, const void *buf, size_t len);

/**
 * @brief Copy the device counters.
 * @param dev Device. @param[out] out Destination. @param size sizeof(*out) as compiled
 *        (fewer bytes copied if smaller, the rest zeroed if larger).
 * @retval 0 Success. @retval VIOMMU_EINVAL NULL argument. @retval VIOMMU_ESIZE `size` 0.
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_virtio_get_stats(struct viommu_virtio *dev, struct viommu_virtio_stats *out, size_t size);

/* ---- ACPI VIOT ------------------------------------------------------- */

/** @brief How the virtio-iommu itself is found by the guest. */
enum viommu_viot_iommu_kind {
    VIOMMU_VIOT_IOMMU_PCI = 0,  /**< virtio-pci device at (segment, BDF). */
    VIOMMU_VIOT_IOMMU_MMIO = 1, /**< virtio-mmio device at a base address. */
};

/** @brief A range of PCI endpoints behind the virtio-iommu (VIOT node type 1). */
struct viommu_viot_pci_range {
    uint32_t endpoint_start; /**< Endpoint ID of (segment_start, bdf_start). */
    uint16_t segment_start;  /**< First PCI segment. */
    uint16_t segment_end;    /**< Last PCI segment. */
    uint16_t bdf_start;      /**< First BDF (bus << 8 | devfn). */
    uint16_t bdf_end;        /**< Last BDF. */
};

/** @brief A virtio-mmio endpoint behind the virtio-iommu (VIOT node type 2). */
struct viommu_viot_mmio_endpoint {
    uint32_t endpoint; /**< Endpoint ID. */
    uint32_t reserved; /**< Zero. */
    uint64_t base;     /**< Base address of the endpoint's MMIO region. */
};

/** @brief VIOT builder input. */
struct viommu_viot_config {
    size_t size;             /**< sizeof(struct viommu_viot_config). */
    uint32_t iommu_kind;     /**< enum viommu_viot_iommu_kind. */
    uint16_t iommu_segment;  /**< PCI kind: segment of the virtio-iommu. */
    uint16_t iommu_bdf;      /**< PCI kind: BDF of the virtio-iommu. */
    uint64_t iommu_base;     /**< MMIO kind: base address of the virtio-mmio device. */
    const struct viommu_viot_pci_range *pci_ranges;     /**< PCI ranges (may be NULL if none). */
    uint32_t n_pci_ranges;                              /**< Number of PCI ranges. */
    uint32_t n_mmio_endpoints;                          /**< Number of MMIO endpoints. */
    const struct viommu_viot_mmio_endpoint *mmio_endpoints; /**< MMIO endpoints (may be NULL if none). */
    const struct viommu_acpi_oem *oem;                  /**< OEM fields, NULL for libviommu defaults. */
};

/**
 * @brief Build a VIOT table (ACPI 6.5 section 5.2.32, revision 0) into a
 *        caller buffer: the IOMMU node first, then PCI range nodes, then
 *        MMIO endpoint nodes; checksum set.
 * @param cfg Input.
 * @param[out] buf Destination (may be NULL when `*len` is 0).
 * @param[in,out] len In: size of `buf`. Out: table length (also on ::VIOMMU_ESIZE).
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL NULL `cfg`/`len`; unknown kind; NULL array with a non-zero count;
 *         a PCI range with start > end; a non-zero `reserved` member; an endpoint ID past
 *         2^32 - 1 (a PCI range's device (segment, bdf) has endpoint ID `endpoint_start` +
 *         (segment - `segment_start`) * 2^16 + bdf - `bdf_start`, as Linux reads it); one
 *         PCI device in two ranges; one endpoint ID for two devices; two MMIO endpoints at
 *         one base or one at the MMIO IOMMU's own base.
 * @retval VIOMMU_ESIZE `cfg->size` too small, or `*len` too small (needed size in `*len`).
 * @retval VIOMMU_ERANGE Too many nodes for the table's 16-bit node count.
 * @note Pure; thread-safe.
 */
VIOMMU_API int viommu_viot_build(const struct viommu_viot_config *cfg, void *buf, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_VIRTIO_IOMMU_H */
