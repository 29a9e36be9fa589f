/*
 * The kernel floor of a message relay on this machine: what a server that does nothing but
 * epoll_wait, read and write costs for the same traffic shape as a bench scenario. No XML, no
 * routing, no storage. bench/run reports it beside ¼ of ejabberd's figure, so a target below what
 * the kernel alone charges on loopback is visible as such.
 *
 *   relay server PORT USERS FANOUT
 *       accepts USERS connections; every chunk read from connection i is written to the FANOUT
 *       connections i+1 ... i+FANOUT (mod USERS), like a message (FANOUT 1) or a presence
 *       broadcast (FANOUT = contacts + the sender's own session).
 *   relay client PORT USERS FANOUT RATE WARMUP SECONDS SIZE SERVER_PID
 *       opens USERS connections, sends SIZE-byte chunks round-robin at RATE per second, reads
 *       everything back, and prints one JSON line with the server's CPU per 1000 chunks sent
 *       (the schedstat of every thread of SERVER_PID, measured after WARMUP seconds for SECONDS seconds).
 *
 * Loopback only; every loop is bounded by the USERS count or the clock.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* CPU time of every thread of the server (a relay built on an event loop library runs its loop on a thread of its own). */
static double server_cpu_seconds(const char *pid) {
    char path[96];
    unsigned long long total = 0;
    int threads = 0;
    snprintf(path, sizeof path, "/proc/%s/task", pid);
    DIR *tasks = opendir(path);
    if (!tasks) { fprintf(stderr, "relay: cannot read %s\n", path); exit(1); }
    for (struct dirent *task; (task = readdir(tasks)) != NULL;) {
        if (task->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%s/task/%.32s/schedstat", pid, task->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long ns = 0;
        if (f && fscanf(f, "%llu", &ns) == 1) { total += ns; threads++; }
        if (f) fclose(f);
    }
    closedir(tasks);
    if (threads == 0) { fprintf(stderr, "relay: no thread of %s readable\n", pid); exit(1); }
    return total / 1e9;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int serve(int port, int users, int fanout) {
    int one = 1;
    struct sockaddr_in a = loopback(port);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (void *)&a, sizeof a) || listen(listener, 4096)) { perror("relay: listen"); return 1; }
    int *conn = calloc(users, sizeof(int));
    int poll = epoll_create1(0);
    for (int i = 0; i < users; i++) {
        conn[i] = accept(listener, NULL, NULL);
        if (conn[i] < 0) { perror("relay: accept"); return 1; }
        setsockopt(conn[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(poll, EPOLL_CTL_ADD, conn[i], &ev);
    }
    static char buf[65536];
    for (;;) {
        struct epoll_event ready[64];
        int n = epoll_wait(poll, ready, 64, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int k = 0; k < n; k++) {
            int i = (int)ready[k].data.u32;
            ssize_t got = read(conn[i], buf, sizeof buf);
            if (got <= 0) return 0;                       /* the client is done */
            for (int f = 1; f <= fanout; f++) {
                if (write(conn[(i + f) % users], buf, (size_t)got) < 0) return 1;
            }
        }
    }
}

static int drive(int port, int users, int fanout, double rate, double warmup, double seconds, int size,
                 const char *pid) {
    int one = 1;
    struct sockaddr_in a = loopback(port);
    int *conn = calloc(users, sizeof(int));
    int poll = epoll_create1(0);
    for (int i = 0; i < users; i++) {
        conn[i] = socket(AF_INET, SOCK_STREAM, 0);
        for (int attempt = 0; connect(conn[i], (void *)&a, sizeof a) != 0; attempt++) {
            if (attempt == 50) { perror("relay: connect"); return 1; }
            close(conn[i]);
            usleep(100000);
            conn[i] = socket(AF_INET, SOCK_STREAM, 0);
        }
        setsockopt(conn[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(conn[i], F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = conn[i]};
        epoll_ctl(poll, EPOLL_CTL_ADD, conn[i], &ev);
    }
    char *chunk = malloc(size);
    memset(chunk, 'x', size);
    static char buf[65536];
    long sent = 0, measured_sent = 0, not_writable = 0;
    unsigned long long received = 0;
    double start = now(), measure_from = start + warmup, end = measure_from + seconds, cpu_from = 0;
    int measuring = 0;
    while (now() < end + 0.5) {                           /* 0.5 s to drain after the last send */
        double t = now();
        if (!measuring && t >= measure_from) { measuring = 1; cpu_from = server_cpu_seconds(pid); measured_sent = sent; }
        long due = t < end ? (long)((t - start) * rate) : sent;
        while (sent < due) {
            if (write(conn[sent % users], chunk, size) != size) not_writable++;
            sent++;
        }
        struct epoll_event ready[64];
        int n = epoll_wait(poll, ready, 64, 1);
        for (int k = 0; k < n; k++) {
            ssize_t got;
            while ((got = read(ready[k].data.fd, buf, sizeof buf)) > 0) received += (unsigned long long)got;
        }
    }
    double cpu = server_cpu_seconds(pid) - cpu_from;
    long counted = sent - measured_sent;
    printf("{\"scenario\": \"floor\", \"users\": %d, \"fanout\": %d, \"rate\": %.0f, \"size\": %d, "
           "\"sent\": %ld, \"not_writable\": %ld, \"delivered_ratio\": %.4f, \"server_cpu_s\": %.4f, "
           "\"server_cpu_s_per_1000\": %.4f}\n",
           users, fanout, rate, size, sent, not_writable,
           sent ? (double)received / ((double)sent * size * fanout) : 0.0, cpu,
           counted ? cpu / (counted / 1000.0) : 0.0);
    for (int i = 0; i < users; i++) close(conn[i]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "server") == 0)
        return serve(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (argc == 10 && strcmp(argv[1], "client") == 0)
        return drive(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atof(argv[5]), atof(argv[6]), atof(argv[7]),
                     atoi(argv[8]), argv[9]);
    fprintf(stderr, "usage: relay server PORT USERS FANOUT\n"
                    "       relay client PORT USERS FANOUT RATE WARMUP SECONDS SIZE SERVER_PID\n");
    return 2;
}
