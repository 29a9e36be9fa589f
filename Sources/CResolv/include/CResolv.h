#ifndef PARLEY_CRESOLV_H
#define PARLEY_CRESOLV_H
/* A small, thread-safe shim over the system resolver (glibc libresolv) for Parley's DNS needs:
   SRV records (RFC 2782) through res_nquery with a per-call resolver state, and address records
   through getaddrinfo. Every call blocks; callers run it off the event loop. */
/* No feature macros here: Swift imports this header as a module, and system headers it pulls in
   must be parsed exactly as Glibc's module parses them (under _GNU_SOURCE, fd_set's member is
   `fds_bits`, otherwise `__fds_bits`, and the two modules then conflict). The .c file sets its own. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Results below zero. */
/* The name has no records of the asked type (NXDOMAIN, or NOERROR with no answers: NODATA). */
#define PARLEY_DNS_NOT_FOUND (-1)
/* The answer could not be had now (SERVFAIL, timeout, refused, malformed answer, local error). */
#define PARLEY_DNS_TEMPORARY (-2)

/* Longest presentation-format domain name plus its terminator (NS_MAXDNAME). */
#define PARLEY_DNS_MAX_NAME 1025

typedef struct parley_srv_record {
    uint16_t priority;
    uint16_t weight;
    uint16_t port;
    /* Target host name without a trailing dot; "." for the root (service decidedly not available). */
    char target[PARLEY_DNS_MAX_NAME];
} parley_srv_record;

typedef struct parley_address {
    /* AF_INET or AF_INET6; `storage` holds a sockaddr_in or sockaddr_in6 with the port set. */
    int family;
    struct sockaddr_storage storage;
} parley_address;

/* Queries the SRV records of `name` (sent as is: no search list). Each query waits at most
   `timeout_seconds` per try, `attempts` tries per name server (values < 1 mean 1).
   Returns the number of records written to `out` (at most `max`, > 0), PARLEY_DNS_NOT_FOUND or
   PARLEY_DNS_TEMPORARY; on failure a NUL-terminated reason is written to `error`. */
int parley_srv_query(const char *name, int timeout_seconds, int attempts,
                     parley_srv_record *out, int max, char *error, size_t error_capacity);

/* Parses a DNS answer message (as res_nquery returns it) into `out`: the IN SRV records of its
   answer section, targets decompressed. Same return convention; used by parley_srv_query and by
   tests with hand-built answers. */
int parley_srv_parse(const unsigned char *answer, int length,
                     parley_srv_record *out, int max, char *error, size_t error_capacity);

/* Looks up the IPv4 and IPv6 addresses of `host` (getaddrinfo: /etc/hosts, DNS, … as the system
   is configured), each with `port`, in the system's preferred order (RFC 6724), without duplicates.
   Same return convention as parley_srv_query. */
int parley_address_query(const char *host, int port,
                         parley_address *out, int max, char *error, size_t error_capacity);

#endif
