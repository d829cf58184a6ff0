/* server/server.c - see server.h. */
#include "server.h"

#include <event2/event.h>

void server_request_shutdown(server_t *srv, bool graceful)
{
    if (graceful)
        atomic_store(&srv->graceful, true);
    atomic_store(&srv->stopping, true);
    if (srv->shutdown_ev)
        event_active(srv->shutdown_ev, EV_TIMEOUT, 0);
}
