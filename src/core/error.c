/* SPDX-License-Identifier: MIT */
#include <libviommu/error.h>

const char *viommu_strerror(int err)
{
    switch (err) {
#define VI_X_MSG(name, value, msg)                                                                                     \
    case value:                                                                                                        \
        return msg;
        VIOMMU_ERRORS(VI_X_MSG)
#undef VI_X_MSG
    default:
        return "unknown error";
    }
}

const char *viommu_strerror_name(int err)
{
    switch (err) {
#define VI_X_NAME(name, value, msg)                                                                                    \
    case value:                                                                                                        \
        return #name;
        VIOMMU_ERRORS(VI_X_NAME)
#undef VI_X_NAME
    default:
        return "VIOMMU_E?";
    }
}
