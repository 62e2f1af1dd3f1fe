/* redis.c -- see redis.h. */
#include "redis.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <hiredis.h>

#include "util.h"

extern char **environ;

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int answers(int port)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    int ok = 0;

    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

int bt_redis_start(struct bt_redis *r, const char *server, char *errstr,
                   size_t errstr_size)
{
    char port[16], buf[128];
    const char *tmp = getenv("TMPDIR");

    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "%s/herald-backtest.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir)) {
        snprintf(errstr, errstr_size, "mkdtemp: %s",
                 util_strerror(errno, buf, sizeof(buf)));
        r->dir[0] = '\0';
        return -1;
    }
    if ((r->port = free_port()) < 0) {
        snprintf(errstr, errstr_size, "no free loopback port");
        goto fail;
    }
    snprintf(port, sizeof(port), "%d", r->port);
    const char *args[] = {server ? server : "redis-server",
                          "--port",
                          port,
                          "--bind",
                          "127.0.0.1",
                          "--save",
                          "",
                          "--appendonly",
                          "no",
                          "--dir",
                          r->dir,
                          "--logfile",
                          "",
                          "--daemonize",
                          "no",
                          NULL};
    char *argv[sizeof(args) / sizeof(args[0])];
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        argv[i] = (char *)(uintptr_t)args[i]; /* posix_spawn's signature; not written */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", 1, 0);
    int e = posix_spawnp(&r->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        snprintf(errstr, errstr_size, "cannot start %s: %s (install redis-server)",
                 argv[0], util_strerror(e, buf, sizeof(buf)));
        r->pid = 0;
        goto fail;
    }
    for (int i = 0; i < 100; i++) {
        if (answers(r->port))
            return 0;
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            snprintf(errstr, errstr_size, "redis-server exited at start");
            goto fail;
        }
        util_sleep_ms(50, NULL);
    }
    snprintf(errstr, errstr_size, "redis-server did not answer within 5 s");
fail:
    bt_redis_stop(r);
    return -1;
}

void bt_redis_stop(struct bt_redis *r)
{
    if (!r)
        return;
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        for (int i = 0; i < 100 && waitpid(r->pid, NULL, WNOHANG) == 0; i++)
            util_sleep_ms(50, NULL);
        if (waitpid(r->pid, NULL, WNOHANG) == 0) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
        }
        r->pid = 0;
    }
    if (r->dir[0]) {
        char path[320];
        snprintf(path, sizeof(path), "%s/dump.rdb", r->dir);
        unlink(path);
        rmdir(r->dir);
        r->dir[0] = '\0';
    }
}
