/* SPDX-License-Identifier: MIT */
/**
 * @file iova_tree.h
 * @brief A standalone IOVA interval map for VMMs (e.g. to track their own
 *        VFIO mappings), built on libviommu's internal interval tree.
 *
 * A viommu_iova_tree holds disjoint inclusive ranges `[first, last]` (the
 * range may touch 0 and 2^64-1), each carrying an output address and
 * permissions. Lookup, insert and remove cost O(log n); visiting the k
 * entries that overlap a range costs O(log n + k). There is no capacity
 * limit; one allocation per entry, through the allocator hooks given at
 * creation.
 *
 * ## Threading
 * This object is not tied to a viommu_ctx and is **not internally locked**:
 * the caller serialises all calls on one tree (concurrent read-only calls —
 * lookup, first_overlap, foreach, count — on an otherwise unmodified tree
 * are safe). Different trees are independent. No function here calls into
 * a context, so they may be used from inside libviommu callbacks.
 */
#ifndef LIBVIOMMU_IOVA_TREE_H
#define LIBVIOMMU_IOVA_TREE_H

#include <libviommu/ctx.h>
#include <libviommu/export.h>
#include <libviommu/types.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief One entry of a viommu_iova_tree: `[first, last]` maps to `addr`. */
struct viommu_iova_map {
    uint64_t first;    /**< First IOVA of the entry. */
    uint64_t last;     /**< Last IOVA of the entry (inclusive); `first <= last`. */
    uint64_t addr;     /**< Output address of `first` (caller-defined meaning). */
    uint32_t perm;     /**< enum viommu_perm (a subset of ::VIOMMU_PERM_RW). */
    uint32_t reserved; /**< Always 0 on output. */
};

/** @brief Opaque IOVA interval map. */
struct viommu_iova_tree;

/**
 * @brief Create an empty tree.
 * @param alloc_ops_or_NULL Host ops whose `alloc`/`free` hooks (and `opaque`)
 *        serve every allocation of this tree, or NULL for malloc()/free().
 *        Only `size`, `alloc` and `free` are read; the pointer is not kept
 *        (the two hooks are copied). As for viommu_ctx_create(), both
 *        hooks NULL means malloc()/free(), and giving only one of them is
 *        refused; members beyond `size` are treated as NULL.
 * @param opaque Passed unchanged to the `alloc` and `free` hooks.
 * @param[out] out The new tree; set to NULL on failure.
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL `out` is NULL, or exactly one of `alloc` and `free` is NULL.
 * @retval VIOMMU_ESIZE `alloc_ops_or_NULL->size` is below ::VIOMMU_HOST_OPS_MIN_SIZE.
 * @retval VIOMMU_ENOMEM Allocation failed; nothing is left allocated.
 * @note Thread-safe (touches no shared state).
 */
VIOMMU_API int viommu_iova_tree_create(const struct viommu_host_ops *alloc_ops_or_NULL, void *opaque,
                                       struct viommu_iova_tree **out);

/**
 * @brief Destroy a tree and free every entry still in it (O(n)).
 * @param t Tree, or NULL (no-op).
 * @note Not thread-safe with respect to other calls on the same tree.
 */
VIOMMU_API void viommu_iova_tree_destroy(struct viommu_iova_tree *t);

/**
 * @brief Add the entry `[first, last]` -> `addr` with permissions `perm`.
 *
 * Entries are kept disjoint: a range that overlaps any existing entry (even
 * by one byte) is refused and the tree is left unchanged.
 * @param t Tree.
 * @param first First IOVA (may be 0).
 * @param last Last IOVA, inclusive (may be UINT64_MAX).
 * @param addr Output address of `first`.
 * @param perm enum viommu_perm bits (only ::VIOMMU_PERM_RW bits allowed).
 * @retval 0 Success.
 * @retval VIOMMU_EINVAL `t` is NULL.
 * @retval VIOMMU_ERANGE `first > last`, or `addr + (last - first)` wraps.
 * @retval VIOMMU_EFLAGS `perm` has bits outside ::VIOMMU_PERM_RW.
 * @retval VIOMMU_EEXIST `[first, last]` overlaps an existing entry.
 * @retval VIOMMU_ENOMEM The entry could not be allocated; tree unchanged.
 * @note Caller serialises calls on `t` (see the file's threading note).
 */
VIOMMU_API int viommu_iova_tree_insert(struct viommu_iova_tree *t, uint64_t first, uint64_t last, uint64_t addr,
                                       uint32_t perm);

/**
 * @brief Remove the entry that is exactly `[first, last]`.
 *
 * Partial removal (splitting an entry) is not done: the range must name an
 * existing entry exactly.
 * @param t Tree.
 * @param first First IOVA of the entry.
 * @param last Last IOVA of the entry (inclusive).
 * @retval 0 Success; the entry is freed.
 * @retval VIOMMU_EINVAL `t` is NULL.
 * @retval VIOMMU_ERANGE `first > last`.
 * @retval VIOMMU_ENOENT No entry equals `[first, last]`; tree unchanged.
 * @note Caller serialises calls on `t`. Allowed from a viommu_iova_tree_foreach()
 *       callback only for the entry that callback was given.
 */
VIOMMU_API int viommu_iova_tree_remove(struct viommu_iova_tree *t, uint64_t first, uint64_t last);

/**
 * @brief Find the entry containing `iova`.
 * @param t Tree.
 * @param iova Address to look up.
 * @param[out] out The entry, copied.
 * @retval 0 Found; `*out` filled.
 * @retval VIOMMU_EINVAL `t` or `out` is NULL.
 * @retval VIOMMU_ENOENT No entry contains `iova`; `*out` untouched.
 * @note Read-only; see the file's threading note.
 */
VIOMMU_API int viommu_iova_tree_lookup(const struct viommu_iova_tree *t, uint64_t iova,
                                       struct viommu_iova_map *out);

/**
 * @brief Find the lowest entry overlapping `[first, last]`.
 * @param t Tree.
 * @param first First IOVA of the query range.
 * @param last Last IOVA of the query range (inclusive).
 * @param[out] out The entry, copied (not clipped to the query range).
 * @retval 0 Found; `*out` filled.
 * @retval VIOMMU_EINVAL `t` or `out` is NULL.
 * @retval VIOMMU_ERANGE `first > last`.
 * @retval VIOMMU_ENOENT Nothing overlaps; `*out` untouched.
 * @note Read-only; see the file's threading note.
 */
VIOMMU_API int viommu_iova_tree_first_overlap(const struct viommu_iova_tree *t, uint64_t first, uint64_t last,
                                              struct viommu_iova_map *out);

/**
 * @brief Call `fn` for each entry overlapping `[first, last]`, in ascending
 *        IOVA order, in O(log n + k).
 *
 * Entries are passed whole (not clipped to the query range). `fn` may
 * remove the entry it was given (viommu_iova_tree_remove() with `m->first`,
 * `m->last`); it must not insert or remove any other entry.
 * @param t Tree.
 * @param first First IOVA of the query range.
 * @param last Last IOVA of the query range (inclusive).
 * @param fn Callback; a non-zero return stops the iteration and is returned.
 *        `m` is valid only during the call.
 * @param opaque Passed unchanged to `fn`.
 * @retval 0 Every overlapping entry was visited (possibly none).
 * @retval VIOMMU_EINVAL `t` or `fn` is NULL.
 * @retval VIOMMU_ERANGE `first > last`.
 * @return Otherwise the first non-zero value returned by `fn`.
 * @note Caller serialises calls on `t`.
 */
VIOMMU_API int viommu_iova_tree_foreach(struct viommu_iova_tree *t, uint64_t first, uint64_t last,
                                        int (*fn)(void *opaque, const struct viommu_iova_map *m), void *opaque);

/**
 * @brief Number of entries.
 * @param t Tree, or NULL.
 * @return The entry count; 0 for NULL.
 * @note Read-only; see the file's threading note.
 */
VIOMMU_API uint64_t viommu_iova_tree_count(const struct viommu_iova_tree *t);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_IOVA_TREE_H */
