/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdlib.h>

Suite *virtio_spec_suite(void);
Suite *virtio_model_suite(void);

int main(void)
{
    SRunner *sr = srunner_create(virtio_spec_suite());
    srunner_add_suite(sr, virtio_model_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
