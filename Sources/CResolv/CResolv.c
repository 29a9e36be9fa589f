#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* EAI_NODATA, EAI_ADDRFAMILY */
#endif
#include "CResolv.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest DNS message; with it an answer is never cut short by our buffer. */
#define PARLEY_DNS_ANSWER_CAPACITY 65536

static void parley_set_error(char *error, size_t capacity, const char *reason) {
    if (error == NULL || capacity == 0) {
        return;
    }
    snprintf(error, capacity, "%s", reason);
}

int parley_srv_parse(const unsigned char *answer, int length,
                     parley_srv_record *out, int max, char *error, size_t error_capacity) {
    if (answer == NULL || length <= 0 || out == NULL || max <= 0) {
        parley_set_error(error, error_capacity, "invalid arguments");
        return PARLEY_DNS_TEMPORARY;
    }
    ns_msg message;
    if (ns_initparse(answer, length, &message) != 0) {
        parley_set_error(error, error_capacity, "malformed answer");
        return PARLEY_DNS_TEMPORARY;
    }
    int count = 0;
    int answers = ns_msg_count(message, ns_s_an);
    /* RFC 2782 "Usage rules": a client MUST parse all of the RRs in the reply. CNAMEs on the way and
       records of other types or classes are skipped; a malformed SRV record is dropped, not fatal. */
    for (int index = 0; index < answers && count < max; index++) {
        ns_rr record;
        if (ns_parserr(&message, ns_s_an, index, &record) != 0) {
            continue;
        }
        if (ns_rr_type(record) != ns_t_srv || ns_rr_class(record) != ns_c_in) {
            continue;
        }
        const unsigned char *data = ns_rr_rdata(record);
        if (ns_rr_rdlen(record) < 7) {
            continue;
        }
        parley_srv_record *item = &out[count];
        item->priority = (uint16_t)((data[0] << 8) | data[1]);
        item->weight = (uint16_t)((data[2] << 8) | data[3]);
        item->port = (uint16_t)((data[4] << 8) | data[5]);
        if (dn_expand(ns_msg_base(message), ns_msg_end(message), data + 6, item->target,
                      (int)sizeof item->target) < 0) {
            continue;
        }
        if (item->target[0] == '\0') {
            strcpy(item->target, ".");
        }
        count++;
    }
    if (count == 0) {
        parley_set_error(error, error_capacity, "no SRV records in the answer");
        return PARLEY_DNS_NOT_FOUND;
    }
    return count;
}

int parley_srv_query(const char *name, int timeout_seconds, int attempts,
                     parley_srv_record *out, int max, char *error, size_t error_capacity) {
    if (name == NULL || out == NULL || max <= 0) {
        parley_set_error(error, error_capacity, "invalid arguments");
        return PARLEY_DNS_TEMPORARY;
    }
    /* One resolver state per call: res_nquery on a private state is thread-safe, unlike res_query. */
    struct __res_state state;
    memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) {
        parley_set_error(error, error_capacity, "resolver initialisation failed (res_ninit)");
        return PARLEY_DNS_TEMPORARY;
    }
    /* Bounded waiting (the defaults, RES_TIMEOUT seconds and 2+ tries per server, can add up to
       half a minute); set after res_ninit so it wins over resolv.conf and RES_OPTIONS. */
    state.retrans = timeout_seconds > 0 ? timeout_seconds : 1;
    state.retry = attempts > 0 ? attempts : 1;

    unsigned char *answer = malloc(PARLEY_DNS_ANSWER_CAPACITY);
    if (answer == NULL) {
        res_nclose(&state);
        parley_set_error(error, error_capacity, "out of memory");
        return PARLEY_DNS_TEMPORARY;
    }

    int result;
    int length = res_nquery(&state, name, ns_c_in, ns_t_srv, answer, PARLEY_DNS_ANSWER_CAPACITY);
    if (length < 0) {
        /* res_nquery folds the response code into h_errno: NXDOMAIN → HOST_NOT_FOUND,
           NOERROR without answers → NO_DATA, SERVFAIL or timeout → TRY_AGAIN,
           FORMERR/NOTIMP/REFUSED → NO_RECOVERY, local trouble → NETDB_INTERNAL (errno). */
        int saved_errno = errno;
        switch (state.res_h_errno) {
        case HOST_NOT_FOUND:
            parley_set_error(error, error_capacity, "no such domain (NXDOMAIN)");
            result = PARLEY_DNS_NOT_FOUND;
            break;
        case NO_DATA:
            parley_set_error(error, error_capacity, "no SRV records (NODATA)");
            result = PARLEY_DNS_NOT_FOUND;
            break;
        case TRY_AGAIN:
            parley_set_error(error, error_capacity, "server failure or timeout (SERVFAIL)");
            result = PARLEY_DNS_TEMPORARY;
            break;
        case NO_RECOVERY:
            parley_set_error(error, error_capacity, "query refused or not understood (REFUSED/FORMERR/NOTIMP)");
            result = PARLEY_DNS_TEMPORARY;
            break;
        default: {
            char reason[160];
            snprintf(reason, sizeof reason, "resolver error: %s", strerror(saved_errno));
            parley_set_error(error, error_capacity, reason);
            result = PARLEY_DNS_TEMPORARY;
            break;
        }
        }
        goto done;
    }
    if (length > PARLEY_DNS_ANSWER_CAPACITY) {
        parley_set_error(error, error_capacity, "answer too large");
        result = PARLEY_DNS_TEMPORARY;
        goto done;
    }

    result = parley_srv_parse(answer, length, out, max, error, error_capacity);

done:
    free(answer);
    res_nclose(&state);
    return result;
}

static int parley_same_address(const parley_address *a, const struct sockaddr *b) {
    if (a->family != b->sa_family) {
        return 0;
    }
    if (b->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->storage;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->storage;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 && x->sin6_scope_id == y->sin6_scope_id;
}

int parley_address_query(const char *host, int port,
                         parley_address *out, int max, char *error, size_t error_capacity) {
    if (host == NULL || out == NULL || max <= 0 || port < 0 || port > 65535) {
        parley_set_error(error, error_capacity, "invalid arguments");
        return PARLEY_DNS_TEMPORARY;
    }
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    /* No AI_ADDRCONFIG: it ignores loopback, so a host with only loopback would resolve nothing. */
    hints.ai_flags = AI_NUMERICSERV;

    struct addrinfo *list = NULL;
    int status = getaddrinfo(host, service, &hints, &list);
    if (status != 0) {
        switch (status) {
        case EAI_NONAME:
#ifdef EAI_NODATA
        case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
        case EAI_ADDRFAMILY:
#endif
            parley_set_error(error, error_capacity, gai_strerror(status));
            return PARLEY_DNS_NOT_FOUND;
        case EAI_SYSTEM: {
            char reason[160];
            snprintf(reason, sizeof reason, "getaddrinfo: %s", strerror(errno));
            parley_set_error(error, error_capacity, reason);
            return PARLEY_DNS_TEMPORARY;
        }
        default: /* EAI_AGAIN, EAI_FAIL, EAI_MEMORY, … */
            parley_set_error(error, error_capacity, gai_strerror(status));
            return PARLEY_DNS_TEMPORARY;
        }
    }

    int count = 0;
    for (struct addrinfo *entry = list; entry != NULL && count < max; entry = entry->ai_next) {
        size_t size;
        if (entry->ai_family == AF_INET) {
            size = sizeof(struct sockaddr_in);
        } else if (entry->ai_family == AF_INET6) {
            size = sizeof(struct sockaddr_in6);
        } else {
            continue;
        }
        if (entry->ai_addr == NULL || entry->ai_addrlen < size) {
            continue;
        }
        int duplicate = 0;
        for (int seen = 0; seen < count; seen++) {
            if (parley_same_address(&out[seen], entry->ai_addr)) {
                duplicate = 1;
                break;
            }
        }
        if (duplicate) {
            continue;
        }
        memset(&out[count], 0, sizeof out[count]);
        out[count].family = entry->ai_family;
        memcpy(&out[count].storage, entry->ai_addr, size);
        count++;
    }
    freeaddrinfo(list);
    if (count == 0) {
        parley_set_error(error, error_capacity, "no IPv4 or IPv6 addresses");
        return PARLEY_DNS_NOT_FOUND;
    }
    return count;
}
