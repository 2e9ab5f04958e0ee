/* The tag at the start of everything a worker registers with epoll (listener, client connection,
 * upstream connection, wake-up eventfd).  Invariant: data.ptr of every epoll event points at an EvSrc
 * that is the first member of its object, so the loop can cast by type. */
#pragma once

typedef enum EvType {
        EV_LISTENER,
        EV_CLIENT,
        EV_UPSTREAM,
        EV_WAKE,
} EvType;

typedef struct EvSrc {
        int type; /* EvType */
} EvSrc;
