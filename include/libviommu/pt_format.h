/* SPDX-License-Identifier: MIT */
/**
 * @file pt_format.h
 * @brief Plug a radix I/O page-table format into the core range walker.
 *
 * A format only decodes one entry at a time; walking, skipping non-present
 * subtrees, large and replicated pages, level skipping, permission
 * accumulation, depth bounds and budgets live once in the core. AMD v1 and
 * VT-d second-level are built-in formats (viommu_pt_format_amdv1(),
 * viommu_pt_format_vtd_sl()); a VMM may define its own.
 *
 * Geometry: a table at level `L` (0 = the level whose entries map the
 * smallest pages) indexes IOVA bits `[shift(L) + level_bits - 1, shift(L)]`
 * with `shift(L) = granule_lg2 + L * level_bits`. The top table has level
 * `top_level` and only indexes bits below `va_lg2`, so a valid configuration
 * has `shift(top_level) < va_lg2 <= min(64, shift(top_level) + level_bits)`;
 * anything else is refused with ::VIOMMU_EINVAL.
 */
#ifndef LIBVIOMMU_PT_FORMAT_H
#define LIBVIOMMU_PT_FORMAT_H

#include <libviommu/export.h>
#include <libviommu/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief What one decoded entry is. */
enum viommu_pte_kind {
    VIOMMU_PTE_NONE = 0,  /**< Not present: nothing below it is mapped. */
    VIOMMU_PTE_TABLE = 1, /**< Points to a table at level `next_level` (< current level). */
    VIOMMU_PTE_LEAF = 2,  /**< Maps a page of 2^page_lg2 bytes at `addr`. */
    VIOMMU_PTE_BAD = 3,   /**< Malformed; `fault_code` says why. */
};

/** @brief One decoded entry (output of viommu_pt_format::decode). */
struct viommu_pte {
    uint32_t kind;       /**< enum viommu_pte_kind. */
    uint32_t fault_code; /**< BAD: format-specific reason (non-zero). */
    uint64_t addr;       /**< TABLE: GPA of the next table. LEAF: output address of the page start. */
    uint8_t next_level;  /**< TABLE: level of the next table; may skip levels (AMD v1). */
    uint8_t page_lg2;    /**< LEAF: page size; at least the level's entry span and below the span of the table (replicated entries). */
    uint8_t perm;        /**< TABLE and LEAF: enum viommu_perm this entry grants; ANDed over the walk. */
    uint8_t reserved[5]; /**< Zero. */
};

/** @brief viommu_fault::code of a TABLE entry whose next level is not below the current level. */
#define VIOMMU_PT_CODE_BAD_LEVEL UINT32_C(0xFFFF0001)
/** @brief viommu_fault::code of a LEAF whose page size does not fit the level it was found at. */
#define VIOMMU_PT_CODE_BAD_PAGE_SIZE UINT32_C(0xFFFF0002)
/** @brief viommu_fault::code when IOVA bits of skipped levels are not zero (reason ::VIOMMU_FAULT_NOT_PRESENT).
 *  Codes from 0xFFFF0000 up are the core walker's; format codes stay below. */
#define VIOMMU_PT_CODE_SKIPPED_BITS UINT32_C(0xFFFF0003)
/** @brief viommu_fault::code (reason ::VIOMMU_FAULT_ADDR_RANGE) of a non-canonical IOVA
 *  (formats with ::VIOMMU_PT_FMT_CANONICAL). */
#define VIOMMU_PT_CODE_NON_CANONICAL UINT32_C(0xFFFF0004)
/** @brief viommu_fault::code (reason ::VIOMMU_FAULT_PERM): a user request met a page
 *  that is not user-accessible (::VIOMMU_PERM_USER clear over the walk). */
#define VIOMMU_PT_CODE_USER UINT32_C(0xFFFF0005)
/** @brief viommu_fault::code (reason ::VIOMMU_FAULT_PERM): an execute request met a page
 *  that may not be executed (XD set on the walk, or a privileged fetch from a user page). */
#define VIOMMU_PT_CODE_EXEC UINT32_C(0xFFFF0006)
/** @brief viommu_fault::code (reason ::VIOMMU_FAULT_PERM): the address space refuses a
 *  request attribute before any walk (e.g. a privileged request to a VT-d PASID entry
 *  with SRE = 0). */
#define VIOMMU_PT_CODE_ATTR_REFUSED UINT32_C(0xFFFF0007)
/** @brief viommu_fault::code (reason ::VIOMMU_FAULT_ADDR_RANGE): the translated
 *  address falls in an output range the address space refuses (VT-d scalable
 *  mode: the interrupt address range, fault reason 0x87). */
#define VIOMMU_PT_CODE_OUTPUT_HOLE UINT32_C(0xFFFF0008)

/** @brief viommu_pt_format::flags: entry permissions carry ::VIOMMU_PERM_EXEC,
 *  ::VIOMMU_PERM_USER and ::VIOMMU_PERM_PRIV_WRITE, and the rights of a
 *  request depend on its ::VIOMMU_PERM_PRIV attribute (x86-64 paging rules:
 *  user requests need USER; privileged writes need WRITE or PRIV_WRITE;
 *  privileged fetches need EXEC and a page that is not user-accessible). */
#define VIOMMU_PT_FMT_PRIV 0x1u
/** @brief viommu_pt_format::flags: IOVAs are canonical: bits from `va_lg2 - 1` up must
 *  all equal bit `va_lg2 - 1` (else ::VIOMMU_FAULT_ADDR_RANGE with
 *  ::VIOMMU_PT_CODE_NON_CANONICAL). Range walks cover both halves: the upper half
 *  at its sign-extended IOVAs, indexed by the top table's upper entries. */
#define VIOMMU_PT_FMT_CANONICAL 0x2u
/** @brief viommu_pt_format::flags: a format without ::VIOMMU_PT_FMT_PRIV whose
 *  entry permissions carry ::VIOMMU_PERM_EXEC: an execute request needs EXEC
 *  in every entry of the walk (and in the configuration's `perm`), besides
 *  its READ/WRITE. Formats without either flag check READ/WRITE only. */
#define VIOMMU_PT_FMT_EXEC 0x4u

struct viommu_pt_config;

/**
 * @brief A page-table format: geometry plus one decode hook.
 *
 * `decode` must be pure: no state, no allocation, no callbacks. It gets the
 * raw little-endian entry already read from guest memory.
 */
struct viommu_pt_format {
    size_t size;          /**< sizeof(struct viommu_pt_format). */
    const char *name;     /**< Short name for logs, e.g. "amdv1". */
    uint8_t granule_lg2;  /**< Smallest page, e.g. 12. */
    uint8_t level_bits;   /**< Index bits per table, e.g. 9 (entries are 8 bytes). */
    uint8_t max_levels;   /**< Tables in the deepest walk (top_level + 1 <= max_levels). */
    uint8_t reserved;     /**< Zero. */
    /** Decode `pte`, found at `level` while translating `iova`. */
    void (*decode)(const struct viommu_pt_config *cfg, unsigned level, uint64_t iova, uint64_t pte,
                   struct viommu_pte *out);
    /* Members below are used only when `size` covers them (formats compiled
     * against 0.1 headers end here and get none of these behaviours). */
    uint32_t flags;     /**< VIOMMU_PT_FMT_* behaviours. */
    uint32_t reserved2; /**< Zero. */
    /** Bits the walker sets, as the hardware does, in every entry a translation
     *  uses (the accessed flag; 0 = the format has none). Written back only by
     *  translations with a non-zero access, atomically per entry (see
     *  docs/architecture.md, "Accessed and dirty bits"). */
    uint64_t accessed_bits;
    /** Bits the walker sets in the leaf a write request goes through (dirty; 0 = none). */
    uint64_t dirty_bits;
};

/**
 * @brief Where and how an address space's tables are walked. A value type.
 *
 * A configuration is invalid (::VIOMMU_EINVAL from every call that takes
 * one) with a NULL `fmt` or `fmt->decode`, a `fmt->size` that does not reach
 * past `decode`, a non-zero `reserved` here or in the format (`reserved2`
 * when `fmt->size` covers it), `fmt->flags` bits other than
 * ::VIOMMU_PT_FMT_PRIV, ::VIOMMU_PT_FMT_CANONICAL and ::VIOMMU_PT_FMT_EXEC,
 * or a geometry that does not fit (granule 0, `level_bits` 0 or above 16,
 * `max_levels` 0 or above 8, `top_level` >= `max_levels`, `va_lg2` above
 * 64, not above the top table's shift or beyond what the top table indexes).
 */
struct viommu_pt_config {
    const struct viommu_pt_format *fmt; /**< Format (must outlive the config's use). */
    uint64_t root;        /**< GPA of the top table (aligned to its size). */
    uint8_t top_level;    /**< Level of the top table (tables = top_level + 1). */
    uint8_t va_lg2;       /**< IOVAs at or above 2^va_lg2 fault with ::VIOMMU_FAULT_ADDR_RANGE (64 = none). */
    uint8_t perm;         /**< Permissions granted before the walk (e.g. AMD DTE IR/IW). */
    uint8_t reserved;     /**< Zero. */
    uint32_t fmt_flags;   /**< Format-specific switches (e.g. superpages allowed). */
    uint64_t fmt_data;    /**< Format-specific value (e.g. address-width mask). */
};

/** @brief One leaf produced by a range walk, clipped to the walked range. */
struct viommu_pt_leaf {
    uint64_t iova_first; /**< First IOVA of the (clipped) leaf. */
    uint64_t iova_last;  /**< Last IOVA (inclusive). */
    uint64_t addr;       /**< Output address of iova_first. */
    uint8_t page_lg2;    /**< Page size of the underlying entry. */
    uint8_t level;       /**< Level the leaf was found at. */
    uint8_t perm;        /**< Accumulated permissions. */
    uint8_t reserved[5]; /**< Zero. */
};

/**
 * @brief Visit callback of viommu_pt_walk_range(). Return 0 to continue,
 *        anything else to stop the walk (the value is returned).
 */
typedef int (*viommu_pt_leaf_fn)(void *opaque, const struct viommu_pt_leaf *leaf);

/**
 * @brief Visit callback for malformed entries met by a range walk (optional).
 * @param opaque Caller data.
 * @param fault What was wrong (reason ::VIOMMU_FAULT_BAD_ENTRY or
 *        ::VIOMMU_FAULT_READ_FAILED, code, entry GPA and level; `iova` is the
 *        first IOVA the entry covers).
 */
typedef void (*viommu_pt_bad_fn)(void *opaque, const struct viommu_fault *fault);

struct viommu_ctx;

/**
 * @brief Translate one IOVA by walking the tables (no IOTLB, no device).
 * @param ctx Context (guest memory access, budgets, stats).
 * @param cfg Table configuration.
 * @param iova Address to translate.
 * @param access enum viommu_perm needed (0 = just look up).
 * @param[out] out Translation on success.
 * @param[out] fault Fault record when ::VIOMMU_EFAULT is returned (may be NULL).
 * @retval 0 Translated and permitted.
 * @retval VIOMMU_EFAULT Not translated; `fault` says why.
 * @retval VIOMMU_EINVAL NULL argument or invalid configuration (see viommu_pt_config).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_pt_translate(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t iova,
                                   unsigned access, struct viommu_translation *out, struct viommu_fault *fault);

/**
 * @brief Visit every present leaf overlapping `[first, last]`, in IOVA order.
 *
 * Non-present subtrees are skipped without reading their entries, so the cost
 * follows the present tables, not the size of the range. Malformed entries and
 * failed reads are reported to `bad` (if non-NULL) and treated as not present.
 * @param ctx Context.
 * @param cfg Table configuration.
 * @param first First IOVA.
 * @param last Last IOVA (inclusive; may be UINT64_MAX).
 * @param leaf Leaf callback (required).
 * @param bad Malformed-entry callback (optional).
 * @param opaque Passed to the callbacks.
 * @param[out] walked_last Last IOVA fully walked (== `last` unless stopped); may be NULL.
 *        A walk that stops before it finished any IOVA stores `first` - 1, which is
 *        UINT64_MAX when `first` is 0: tell a whole walk by the return value 0.
 * @retval 0 Whole range walked.
 * @retval VIOMMU_EBUDGET The walk-entries budget ran out; `walked_last` says where.
 * @retval VIOMMU_ERANGE `first > last`.
 * @retval VIOMMU_EINVAL NULL argument or invalid configuration (see viommu_pt_config).
 * @retval VIOMMU_EBUSY Called from a callback.
 * @return Any non-zero value returned by `leaf` stops the walk and is returned.
 * @note The callbacks run with the context lock held, as callbacks of `ctx`:
 *       callback-safe calls (e.g. viommu_ctx_get_stats()) work from them and
 *       every other call on `ctx` returns ::VIOMMU_EBUSY.
 */
VIOMMU_API int viommu_pt_walk_range(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg, uint64_t first,
                                    uint64_t last, viommu_pt_leaf_fn leaf, viommu_pt_bad_fn bad, void *opaque,
                                    uint64_t *walked_last);

/**
 * @brief viommu_pt_translate() through a table nested over a host (stage-2)
 *        table, as the device models walk one (AMD-Vi guest tables over the
 *        v1 table, see viommu_amdvi_resolution_v2::host_pt).
 *
 * Every table pointer of `cfg` and the output address of its leaf are
 * guest-physical and translated through `host` by the same walker. The
 * translation is the smaller of the two pages, with the AND of the rights of
 * both walks; a fault in the host walk has ::VIOMMU_FAULT_F_HOST in
 * viommu_fault::flags (its `entry_gpa` and `level` are the host table's).
 * Accessed/dirty updates of `cfg`'s entries need write rights on their
 * tables through `host`.
 * @param ctx Context.
 * @param cfg The nested (stage-1) table configuration.
 * @param host The host table, or NULL: then exactly viommu_pt_translate().
 * @param iova Address to translate.
 * @param access enum viommu_perm needed (0 = just look up).
 * @param[out] out Translation on success.
 * @param[out] fault Fault record when ::VIOMMU_EFAULT is returned (may be NULL).
 * @retval 0 Translated and permitted.
 * @retval VIOMMU_EFAULT Not translated; `fault` says why.
 * @retval VIOMMU_EINVAL NULL argument or invalid configuration (see viommu_pt_config).
 * @retval VIOMMU_EBUSY Called from a callback.
 */
VIOMMU_API int viommu_pt_translate_nested(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                                          const struct viommu_pt_config *host, uint64_t iova, unsigned access,
                                          struct viommu_translation *out, struct viommu_fault *fault);

/**
 * @brief viommu_pt_walk_range() through a table nested over a host table.
 *
 * Visits the composed pieces, in IOVA order: each leaf of `cfg` is handed
 * on once per piece of it the host table maps (IOVA range, host output
 * address, the AND of both rights); a piece the host table does not map is
 * left out. Table pointers of `cfg` are translated through `host`; a table
 * the host table does not map is reported to `bad` (with the host entry's
 * level) and treated as not present, and so are malformed host entries met
 * under a leaf (those with ::VIOMMU_FAULT_F_HOST).
 * @param ctx Context.
 * @param cfg The nested (stage-1) table configuration.
 * @param host The host table, or NULL: then exactly viommu_pt_walk_range().
 * @param first First IOVA.
 * @param last Last IOVA (inclusive; may be UINT64_MAX).
 * @param leaf Leaf callback (required).
 * @param bad Malformed-entry callback (optional).
 * @param opaque Passed to the callbacks.
 * @param[out] walked_last Last IOVA fully walked (== `last` unless stopped); may be NULL.
 *        A walk that stops before it finished any IOVA stores `first` - 1, which is
 *        UINT64_MAX when `first` is 0: tell a whole walk by the return value 0.
 * @retval 0 Whole range walked.
 * @retval VIOMMU_EBUDGET The walk-entries budget ran out; `walked_last` says where.
 * @retval VIOMMU_ERANGE `first > last`.
 * @retval VIOMMU_EINVAL NULL argument or invalid configuration (see viommu_pt_config).
 * @retval VIOMMU_EBUSY Called from a callback.
 * @return Any non-zero value returned by `leaf` stops the walk and is returned.
 * @note The callbacks run as in viommu_pt_walk_range().
 */
VIOMMU_API int viommu_pt_walk_range_nested(struct viommu_ctx *ctx, const struct viommu_pt_config *cfg,
                                           const struct viommu_pt_config *host, uint64_t first, uint64_t last,
                                           viommu_pt_leaf_fn leaf, viommu_pt_bad_fn bad, void *opaque,
                                           uint64_t *walked_last);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_PT_FORMAT_H */
