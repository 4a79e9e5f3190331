/* SPDX-License-Identifier: MIT */
/* See check_main.h. */
#include "check_main.h"

#include <stdlib.h>

int vi_check_run(const vi_suite_fn *suites, bool nofork)
{
    SRunner *sr = srunner_create(suites[0]());
    for (unsigned i = 1; suites[i]; i++)
        srunner_add_suite(sr, suites[i]());
    if (nofork)
        srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
