/* redis.h -- a throwaway redis-server for herald-backtest: started on a free loopback
 * port in a temporary directory, with no persistence, and stopped at the end. */
#ifndef HERALD_BACKTEST_REDIS_H
#define HERALD_BACKTEST_REDIS_H

#include <stddef.h>
#include <sys/types.h>

struct bt_redis {
    pid_t pid;
    int port;
    char dir[256];
};

/* Start `server` (NULL: redis-server from PATH). Returns 0 when it answers PING, or -1
 * with errstr (nothing left running). */
int bt_redis_start(struct bt_redis *r, const char *server, char *errstr,
                   size_t errstr_size);

/* Stop it and remove its directory. NULL-safe; safe on a never-started r. */
void bt_redis_stop(struct bt_redis *r);

#endif
