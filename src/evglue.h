/* evglue.h - what every libevent user in the project needs the same way: one way to make
 * the event loop, libevent's own messages in the logfmt log, and listeners that survive
 * running out of descriptors. */
#ifndef INSTANCED_EVGLUE_H
#define INSTANCED_EVGLUE_H

#include <event2/event.h>
#include <event2/listener.h>

/* A new event base with the epoll changelist: the changes made while one round of
 * callbacks runs are applied together before the next epoll_wait, so a disable and a
 * re-enable of the same descriptor (evhttp does both around every keep-alive request)
 * cost one epoll_ctl or none instead of one each. libevent warns that the changelist
 * misbehaves with descriptors cloned by dup(): no process of the project registers one
 * (the supervisor's dup2 calls are in its children, after the fork). NULL on failure. */
struct event_base *evglue_base_new(void);

/* How long a listener rests after accept() failed for want of descriptors or memory. */
#define EVGLUE_ACCEPT_PAUSE_MS 1000

/* Route libevent's internal messages ("[warn] ...", on stderr by default) through
 * log_kv(), as msg="libevent: ..." at the matching level. Process-wide; idempotent. */
void evglue_log_to_logfmt(void);

/* Make l rest EVGLUE_ACCEPT_PAUSE_MS when accept() fails with EMFILE, ENFILE, ENOBUFS
 * or ENOMEM, instead of libevent 2.1's default: the listener stays enabled, a
 * level-triggered poll wakes it at once, and every wake-up logs "Error from accept()
 * call" - a busy loop writing hundreds of thousands of lines a second. One warning per
 * pause, naming what (e.g. "status endpoint"); other accept errors are logged and
 * the listener goes on. Works for a listener evhttp owns too
 * (evhttp_bound_socket_get_listener). A few listeners per process at most: 0, or -1
 * when all slots are taken. */
int evglue_guard_listener(struct evconnlistener *l, const char *what);

/* hold != 0: l stops accepting until released with hold == 0, also across the end of
 * a pause (its owner is at a connection cap, say). Released, it accepts again unless
 * it is resting after an accept error. -1 when l is not guarded. */
int evglue_hold_listener(struct evconnlistener *l, int hold);

/* Forget l (before it is freed). */
void evglue_unguard_listener(struct evconnlistener *l);

#endif
