/* common: sizes as Docker prints them. */
#pragma once

#include <stdint.h>

/* Decimal units, three significant digits: "512B", "1.23MB", "4.5GB".
 * Caller owns. */
char *bt_size_human(int64_t n);
