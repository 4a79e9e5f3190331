/* SPDX-License-Identifier: MIT */
/* The one Check main of the unit tests. A test binary lists its suites:
 *
 *     VI_CHECK_MAIN(core_suite, other_suite)
 *
 * (or VI_CHECK_MAIN_NOFORK(...) to run the tests in the main process, as
 * threaded tests under TSan need). main runs every suite in one runner with
 * CK_NORMAL output and exits 0 only if every test passed. */
#ifndef VIOMMU_TEST_CHECK_MAIN_H
#define VIOMMU_TEST_CHECK_MAIN_H

#include <check.h>
#include <stdbool.h>

typedef Suite *(*vi_suite_fn)(void);

/* Run the NULL-terminated list of suites; returns the process exit code. */
int vi_check_run(const vi_suite_fn *suites, bool nofork);

#define VI_CHECK_MAIN(...)                                                                                        \
    int main(void)                                                                                                \
    {                                                                                                             \
        static const vi_suite_fn vi_suites_[] = {__VA_ARGS__, NULL};                                              \
        return vi_check_run(vi_suites_, false);                                                                   \
    }

#define VI_CHECK_MAIN_NOFORK(...)                                                                                 \
    int main(void)                                                                                                \
    {                                                                                                             \
        static const vi_suite_fn vi_suites_[] = {__VA_ARGS__, NULL};                                              \
        return vi_check_run(vi_suites_, true);                                                                    \
    }

#endif
