/* cunit_run.h - run every registered CUnit test and turn the result into an exit code. */
#ifndef INSTANCED_CUNIT_RUN_H
#define INSTANCED_CUNIT_RUN_H

#include <CUnit/Basic.h>

/* CU_basic_run_tests() reports success even when assertions fail, so the failure
 * counts are read here, before the registry (which holds them) is cleaned up.
 * Returns 0 when every assertion passed, else 1. */
static inline int cu_run_all(void)
{
    unsigned fails;

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures() + CU_get_number_of_failure_records();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

#endif
