/* stub: replaced by the RAM tier implementation */
#include "cache.h"
const char *cache_strerror(cache_status_e status) { (void)status; return "stub"; }
