/* SPDX-License-Identifier: MIT */
#include <libviommu/version.h>

int viommu_version(void)
{
    return VIOMMU_VERSION_NUMBER;
}

const char *viommu_version_string(void)
{
    return VIOMMU_VERSION_STRING;
}
