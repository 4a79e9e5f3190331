/* SPDX-License-Identifier: MIT */
/**
 * @file error.h
 * @brief The one error enum of libviommu and viommu_strerror().
 *
 * Every function that can fail returns `0` on success or one negative
 * `VIOMMU_E*` code. Guest-visible faults are not errors: they are records
 * (struct viommu_fault) delivered to device models and, through them, to the
 * guest the way the vendor specification says.
 */
#ifndef LIBVIOMMU_ERROR_H
#define LIBVIOMMU_ERROR_H

#include <libviommu/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief X-macro list of every error: name, value, message.
 *
 * One list feeds the enum and viommu_strerror(), so names and strings never
 * drift apart.
 */
#define VIOMMU_ERRORS(X)                                                              \
    X(VIOMMU_OK, 0, "success")                                                        \
    X(VIOMMU_EINVAL, -1, "invalid argument (NULL, misaligned or out-of-domain value)") \
    X(VIOMMU_ENOMEM, -2, "out of memory")                                             \
    X(VIOMMU_ERANGE, -3, "range is empty, wraps around 2^64 or lies outside the allowed space") \
    X(VIOMMU_EEXIST, -4, "overlaps something that already exists")                    \
    X(VIOMMU_ENOENT, -5, "no such object")                                            \
    X(VIOMMU_EBUSY, -6, "instance is busy: re-entered from one of its own callbacks") \
    X(VIOMMU_EBUDGET, -7, "work budget exhausted; the operation stopped consistently") \
    X(VIOMMU_EFAULT, -8, "translation fault; see the fault record")                   \
    X(VIOMMU_ENOTSUP, -9, "not supported by this configuration")                      \
    X(VIOMMU_ESIZE, -10, "structure size field or buffer size too small")             \
    X(VIOMMU_EFLAGS, -11, "unknown flag bits set")                                    \
    X(VIOMMU_ESTATE, -12, "object is in the wrong state for this call")               \
    X(VIOMMU_EIO, -13, "guest memory access failed")                                  \
    X(VIOMMU_ESINK, -14, "a notifier callback reported a failure")                    \
    X(VIOMMU_EFORMAT, -15, "malformed or incompatible saved state or input")

/** @brief Error codes. All failures are negative. */
enum viommu_error {
#define VIOMMU_X_ENUM_(name, value, msg) name = value,
    VIOMMU_ERRORS(VIOMMU_X_ENUM_)
#undef VIOMMU_X_ENUM_
};

/**
 * @brief Describe an error code.
 * @param err A value returned by any libviommu function (0 or a VIOMMU_E* code).
 * @return A static, NUL-terminated English string; never NULL. Unknown codes
 *         return "unknown error".
 * @note Thread-safe; may be called from any callback.
 */
VIOMMU_API const char *viommu_strerror(int err);

/**
 * @brief Name of an error code as written in the enum, e.g. "VIOMMU_ERANGE".
 * @param err Error code.
 * @return A static string; "VIOMMU_E?" for unknown codes.
 * @note Thread-safe; may be called from any callback.
 */
VIOMMU_API const char *viommu_strerror_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIOMMU_ERROR_H */
