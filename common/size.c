/* common: sizes as Docker prints them (see size.h). */
#include "common/size.h"
#include "common/common.h"

char *
bt_size_human(int64_t n)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1000 && u + 1 < BT_ARRAY_SIZE(units)) {
        v /= 1000;
        u++;
    }
    return xasprintf("%.3g%s", v, units[u]);
}
