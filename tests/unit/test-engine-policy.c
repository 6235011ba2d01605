/* engine: the monitor's pure policy — restart policies and Docker's
 * backoff, health bookkeeping (streaks, start period, 5 results, 4 KiB). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "engine/container.h"

static void
test_restart_parse(void **state)
{
    enum engine_restart p;
    int n = -1;
    struct bt_err *err = NULL;
    assert_int_equal(engine_restart_parse(NULL, &p, &n, &err), 0);
    assert_int_equal(p, ENGINE_RESTART_NO);
    assert_int_equal(engine_restart_parse("always", &p, &n, &err), 0);
    assert_int_equal(p, ENGINE_RESTART_ALWAYS);
    assert_int_equal(engine_restart_parse("unless-stopped", &p, &n, &err), 0);
    assert_int_equal(p, ENGINE_RESTART_UNLESS_STOPPED);
    assert_int_equal(engine_restart_parse("on-failure:5", &p, &n, &err), 0);
    assert_int_equal(p, ENGINE_RESTART_ON_FAILURE);
    assert_int_equal(n, 5);
    assert_int_equal(engine_restart_parse("on-failure", &p, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(engine_restart_parse("on-failure:x", &p, &n, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "bad retry count"));
    err = bt_err_free(err);
    assert_int_equal(engine_restart_parse("sometimes", &p, &n, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "invalid restart policy 'sometimes'"));
    bt_err_free(err);
}

static void
test_backoff(void **state)
{
    /* 100 ms, doubling, capped at a minute */
    uint64_t d = 0;
    uint64_t want[] = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000};
    for (size_t i = 0; i < BT_ARRAY_SIZE(want); i++) {
        d = engine_restart_backoff_ms(d, 50);
        assert_int_equal(d, want[i]);
    }
    /* back to 100 ms after 10 s of running */
    assert_int_equal(engine_restart_backoff_ms(60000, 10000), 100);
    assert_int_equal(engine_restart_backoff_ms(800, 9999), 1600);
}

static void
test_restart_wanted(void **state)
{
    assert_false(engine_restart_wanted(ENGINE_RESTART_NO, 0, 0, 1, false));
    assert_true(engine_restart_wanted(ENGINE_RESTART_ALWAYS, 0, 9, 0, false));
    assert_false(engine_restart_wanted(ENGINE_RESTART_ALWAYS, 0, 0, 1, true));
    assert_true(engine_restart_wanted(ENGINE_RESTART_UNLESS_STOPPED, 0, 0, 0, false));
    assert_false(engine_restart_wanted(ENGINE_RESTART_UNLESS_STOPPED, 0, 0, 0, true));
    assert_false(engine_restart_wanted(ENGINE_RESTART_ON_FAILURE, 0, 0, 0, false));
    assert_true(engine_restart_wanted(ENGINE_RESTART_ON_FAILURE, 3, 2, 1, false));
    assert_false(engine_restart_wanted(ENGINE_RESTART_ON_FAILURE, 3, 3, 1, false));
    assert_true(engine_restart_wanted(ENGINE_RESTART_ON_FAILURE, 0, 100, 137, false));
}

static void
test_health(void **state)
{
    _cleanup_json_ json_t *h =
        json_pack("{s:s,s:i,s:[]}", "Status", "starting", "FailingStreak", 0, "Log");
    /* failures in the start period do not count */
    engine_health_record(h, "t0", "t1", 1, "no", 2, 3, true);
    assert_string_equal(bt_json_str(h, "Status"), "starting");
    assert_int_equal(json_integer_value(json_object_get(h, "FailingStreak")), 0);
    /* after it they do, and `retries` of them make it unhealthy */
    engine_health_record(h, "t0", "t1", 1, "no", 2, 3, false);
    engine_health_record(h, "t0", "t1", 1, "no", 2, 3, false);
    assert_string_equal(bt_json_str(h, "Status"), "starting");
    engine_health_record(h, "t0", "t1", 1, "no", 2, 3, false);
    assert_string_equal(bt_json_str(h, "Status"), "unhealthy");
    assert_int_equal(json_integer_value(json_object_get(h, "FailingStreak")), 3);
    /* one success is healthy again and resets the streak */
    engine_health_record(h, "t0", "t1", 0, "ok", 2, 3, false);
    assert_string_equal(bt_json_str(h, "Status"), "healthy");
    assert_int_equal(json_integer_value(json_object_get(h, "FailingStreak")), 0);
    /* a success in the start period ends it: later failures count */
    json_t *log = json_object_get(h, "Log");
    assert_int_equal(json_array_size(log), 5);
    json_t *last = json_array_get(log, 4);
    assert_string_equal(bt_json_str(last, "Output"), "ok");
    assert_int_equal(json_integer_value(json_object_get(last, "ExitCode")), 0);
    engine_health_record(h, "t2", "t3", 1, "x", 1, 3, true);
    assert_int_equal(json_integer_value(json_object_get(h, "FailingStreak")), 1);
    /* only the last 5 results are kept, output cut at 4 KiB */
    char big[10000];
    memset(big, 'a', sizeof(big));
    engine_health_record(h, "t4", "t5", 0, big, sizeof(big), 3, false);
    assert_int_equal(json_array_size(log), 5);
    assert_int_equal(strlen(bt_json_str(json_array_get(log, 4), "Output")), 4096);
    assert_string_equal(bt_json_str(json_array_get(log, 0), "Start"), "t0");
    /* output that is not UTF-8 is kept readable */
    engine_health_record(h, "t6", "t7", 0,
                         "a\xff"
                         "b",
                         3, 3, false);
    assert_string_equal(bt_json_str(json_array_get(log, 4), "Output"), "a?b");
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_parse),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_restart_wanted),
        cmocka_unit_test(test_health),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
