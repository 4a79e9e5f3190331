/* SPDX-License-Identifier: MIT */
#include "check_main.h"

Suite *virtio_spec_suite(void);
Suite *virtio_model_suite(void);

VI_CHECK_MAIN(virtio_spec_suite, virtio_model_suite)
