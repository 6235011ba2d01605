/* image: Dockerfile-style --change instructions applied to an image config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "image/image.h"

static json_t *
apply(const char *const *changes)
{
    json_t *cfg = json_object();
    for (const char *const *c = changes; *c; c++) {
        struct bt_err *err = NULL;
        if (image_config_change(cfg, *c, &err) < 0)
            fail_msg("'%s': %s", *c, err->msg);
    }
    return cfg;
}

static void
test_forms(void **state)
{
    const char *const changes[] = {
        "CMD [\"nginx\", \"-g\", \"daemon off;\"]",
        "entrypoint /docker-entrypoint.sh --verbose",
        "ENV PATH=/usr/bin:/bin LANG=\"C.UTF-8\" A=1",
        "ENV A 2 and more",
        "EXPOSE 80 53/udp",
        "LABEL org.example.team=web \"org.example.note=two words\"",
        "USER 1000:1000",
        "WORKDIR /srv",
        "STOPSIGNAL SIGQUIT",
        "VOLUME [\"/data\", \"/cache\"]",
        "VOLUME /logs",
        NULL,
    };
    _cleanup_json_ json_t *cfg = apply(changes);
    _cleanup_json_ json_t *want = json_loads(
        "{\"Cmd\": [\"nginx\", \"-g\", \"daemon off;\"],"
        " \"Entrypoint\": [\"/bin/sh\", \"-c\", \"/docker-entrypoint.sh --verbose\"],"
        " \"Env\": [\"PATH=/usr/bin:/bin\", \"LANG=C.UTF-8\", \"A=2 and more\"],"
        " \"ExposedPorts\": {\"80/tcp\": {}, \"53/udp\": {}},"
        " \"Labels\": {\"org.example.team\": \"web\", \"org.example.note\": \"two words\"},"
        " \"User\": \"1000:1000\", \"WorkingDir\": \"/srv\", \"StopSignal\": \"SIGQUIT\","
        " \"Volumes\": {\"/data\": {}, \"/cache\": {}, \"/logs\": {}}}",
        0, NULL);
    assert_non_null(want);
    if (!json_equal(cfg, want)) {
        _cleanup_free_ char *got = json_dumps(cfg, JSON_SORT_KEYS);
        fail_msg("got %s", got);
    }
}

static void
test_bad(void **state)
{
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"RUN make", "'RUN' cannot be changed"},
        {"", "cannot be changed"},
        {"CMD [\"a\", 1]", "not a JSON array of strings"},
        {"EXPOSE 70000", "not PORT[/tcp|udp|sctp]"},
        {"EXPOSE 80/icmp", "not PORT[/tcp|udp|sctp]"},
        {"EXPOSE", "at least one port"},
        {"LABEL novalue", "not key=value"},
        {"WORKDIR relative", "not an absolute path"},
        {"VOLUME data", "not an absolute path"},
        {"USER", "needs an argument"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        _cleanup_json_ json_t *cfg = json_object();
        struct bt_err *err = NULL;
        if (image_config_change(cfg, bad[i].in, &err) != -EINVAL)
            fail_msg("'%s' accepted", bad[i].in);
        if (!strstr(err->msg, bad[i].msg))
            fail_msg("'%s': '%s' lacks '%s'", bad[i].in, err->msg, bad[i].msg);
        bt_err_free(err);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
