#ifndef PARLEY_CEXPAT_SHIM_H
#define PARLEY_CEXPAT_SHIM_H
/* No _GNU_SOURCE (and so no RTLD_DEFAULT): this header is imported as a module, and system headers
   must be parsed as Glibc's module parses them, or the two modules conflict (fd_set). */
#include <dlfcn.h>
#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Turns off expat's reparse deferral (expat >= 2.6.0, backported to Debian's 2.5.0-1+deb12u5) so a
   complete stanza is never held back waiting for more input (libexpat #840). Looked up at run time
   so Parley also builds against older expat headers, which have no deferral to turn off.
   Returns 1 when the function exists. */
static inline int parley_expat_disable_reparse_deferral(XML_Parser parser) {
    typedef XML_Bool (*set_deferral_fn)(XML_Parser, XML_Bool);
    static set_deferral_fn set_deferral = 0;
    static int looked_up = 0;
    if (!looked_up) {
        /* The program's own handle searches it and every library loaded with it, libexpat included. */
        void *self = dlopen(NULL, RTLD_LAZY);
        if (self) set_deferral = (set_deferral_fn)dlsym(self, "XML_SetReparseDeferralEnabled");
        looked_up = 1;
    }
    if (set_deferral) {
        set_deferral(parser, XML_FALSE);
        return 1;
    }
    return 0;
}
/* Expat's memory, one region per parser.
 *
 * Each parser allocates from its own mapped region (PARLEY_EXPAT_ARENA_BYTES of address space, of
 * which a parser touches about 10 KB), which goes back to the system whole when the parser is
 * freed. From the general heap, the blocks of thousands of parsers made in a login storm (each
 * parser about 10 KB in 15 blocks) sit between the sessions' long-lived objects made at the same
 * time; freed two seconds later, they left holes glibc cannot give back: 7 KB of resident memory
 * per session after a storm of 5000 logins at 2500/s.
 *
 * Blocks are handed out in order and not reused (a parser allocates little after its first
 * stanzas, and is replaced after XMLStreamLimits.recycleAfterBytes); a freed or grown block that is
 * the region's last is given back. A block that does not fit comes from malloc. Each block starts
 * with a header naming its region (NULL: malloc), so frees need no lookup. The region used for
 * new blocks is the calling thread's current one, set by parley_expat_create and parley_expat_parse
 * around the expat call and restored after it. A few freed regions are kept per thread for reuse;
 * the rest are unmapped. */
#define PARLEY_EXPAT_ARENA_BYTES ((size_t)32768)
#define PARLEY_EXPAT_ARENA_CACHE 16
/* Regions mapped at once, process-wide (512 MB of address space): each can be a mapping of its own
   once its neighbours are unmapped, and the process's mappings are limited (vm.max_map_count,
   65530 by default), which the heap and thread stacks need too. Past it, parsers use the heap. */
#define PARLEY_EXPAT_ARENA_MAX 16384L

static inline long *parley_expat_mapped(void) {
    static long mapped;
    return &mapped;
}

typedef struct parley_expat_arena {
    size_t used;                          /* bytes handed out, this header included */
    size_t live;                          /* blocks handed out and not freed */
    struct parley_expat_arena *next;      /* in the thread's cache of freed regions */
    size_t reserved;
} parley_expat_arena;

typedef struct parley_expat_block {
    parley_expat_arena *arena;            /* NULL: from malloc */
    size_t size;
} parley_expat_block;

static inline size_t parley_expat_span(size_t size) {
    return sizeof(parley_expat_block) + ((size + 15) & ~(size_t)15);
}

static inline parley_expat_arena **parley_expat_current(void) {
    static __thread parley_expat_arena *current;
    return &current;
}

static void *parley_expat_malloc(size_t size) {
    parley_expat_arena *arena = *parley_expat_current();
    if (arena && size < PARLEY_EXPAT_ARENA_BYTES && arena->used + parley_expat_span(size) <= PARLEY_EXPAT_ARENA_BYTES) {
        parley_expat_block *block = (parley_expat_block *)((char *)arena + arena->used);
        arena->used += parley_expat_span(size);
        arena->live += 1;
        block->arena = arena;
        block->size = size;
        return block + 1;
    }
    if (size > SIZE_MAX - sizeof(parley_expat_block)) return NULL;  /* the header would wrap it */
    parley_expat_block *block = (parley_expat_block *)malloc(sizeof(parley_expat_block) + size);
    if (!block) return NULL;
    block->arena = NULL;
    block->size = size;
    return block + 1;
}

static inline int parley_expat_is_last(parley_expat_block *block) {
    return (char *)block + parley_expat_span(block->size) == (char *)block->arena + block->arena->used;
}

static void parley_expat_free(void *pointer) {
    if (!pointer) return;
    parley_expat_block *block = (parley_expat_block *)pointer - 1;
    parley_expat_arena *arena = block->arena;
    if (!arena) {
        free(block);
        return;
    }
    if (parley_expat_is_last(block)) arena->used -= parley_expat_span(block->size);
    arena->live -= 1;
}

static void *parley_expat_realloc(void *pointer, size_t size) {
    if (!pointer) return parley_expat_malloc(size);
    parley_expat_block *block = (parley_expat_block *)pointer - 1;
    parley_expat_arena *arena = block->arena;
    if (size > SIZE_MAX - sizeof(parley_expat_block)) return NULL;
    if (!arena) {
        parley_expat_block *grown = (parley_expat_block *)realloc(block, sizeof(parley_expat_block) + size);
        if (!grown) return NULL;
        grown->size = size;
        return grown + 1;
    }
    size_t offset = (size_t)((char *)block - (char *)arena);
    if (parley_expat_is_last(block) && offset + parley_expat_span(size) <= PARLEY_EXPAT_ARENA_BYTES) {
        arena->used = offset + parley_expat_span(size);
        block->size = size;
        return pointer;
    }
    void *moved = parley_expat_malloc(size);
    if (!moved) return NULL;
    memcpy(moved, pointer, block->size < size ? block->size : size);
    parley_expat_free(pointer);
    return moved;
}

static inline parley_expat_arena **parley_expat_cache(int **count) {
    static __thread parley_expat_arena *head;
    static __thread int cached;
    *count = &cached;
    return &head;
}

/* A region for a new parser, or NULL (its blocks then all come from malloc). */
static inline parley_expat_arena *parley_expat_arena_create(void) {
    int *count;
    parley_expat_arena **head = parley_expat_cache(&count);
    parley_expat_arena *arena = *head;
    if (arena) {
        *head = arena->next;
        *count -= 1;
    } else {
        if (__atomic_add_fetch(parley_expat_mapped(), 1, __ATOMIC_RELAXED) > PARLEY_EXPAT_ARENA_MAX) {
            __atomic_sub_fetch(parley_expat_mapped(), 1, __ATOMIC_RELAXED);
            return NULL;
        }
        void *mapped = mmap(NULL, PARLEY_EXPAT_ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapped == MAP_FAILED) {
            __atomic_sub_fetch(parley_expat_mapped(), 1, __ATOMIC_RELAXED);
            return NULL;
        }
        arena = (parley_expat_arena *)mapped;
    }
    arena->used = sizeof(parley_expat_arena);
    arena->live = 0;
    arena->next = NULL;
    return arena;
}

static inline void parley_expat_arena_destroy(parley_expat_arena *arena) {
    if (!arena) return;
    int *count;
    parley_expat_arena **head = parley_expat_cache(&count);
    /* Unmapping splits the mapping it belongs to, which fails when the process is at its limit
       of mappings (vm.max_map_count): the region is then kept for reuse rather than lost. */
    if (*count >= PARLEY_EXPAT_ARENA_CACHE && munmap(arena, PARLEY_EXPAT_ARENA_BYTES) == 0) {
        __atomic_sub_fetch(parley_expat_mapped(), 1, __ATOMIC_RELAXED);
        return;
    }
    arena->next = *head;
    *head = arena;
    *count += 1;
}

/* Blocks of the region not freed yet (for tests: zero once its parser is freed). */
static inline size_t parley_expat_arena_live(const parley_expat_arena *arena) {
    return arena ? arena->live : 0;
}

/* Bytes of the region handed out (for tests). */
static inline size_t parley_expat_arena_used(const parley_expat_arena *arena) {
    return arena ? arena->used : 0;
}

/* The memory functions expat is given (also for tests). */
static inline XML_Memory_Handling_Suite parley_expat_memory_suite(void) {
    XML_Memory_Handling_Suite suite = {parley_expat_malloc, parley_expat_realloc, parley_expat_free};
    return suite;
}

/* A namespace-aware parser ("uri local" names, a space between) whose memory comes from `arena`. */
static inline XML_Parser parley_expat_create(parley_expat_arena *arena) {
    const XML_Memory_Handling_Suite suite = parley_expat_memory_suite();
    parley_expat_arena *saved = *parley_expat_current();
    *parley_expat_current() = arena;
    XML_Parser parser = XML_ParserCreate_MM("UTF-8", &suite, " ");
    *parley_expat_current() = saved;
    return parser;
}

/* XML_Parse, allocating from the parser's region. */
static inline enum XML_Status parley_expat_parse(XML_Parser parser, parley_expat_arena *arena, const char *bytes, int length) {
    parley_expat_arena *saved = *parley_expat_current();
    *parley_expat_current() = arena;
    enum XML_Status status = XML_Parse(parser, bytes, length, 0);
    *parley_expat_current() = saved;
    return status;
}

/* Frees the parser, then its region. */
static inline void parley_expat_free_parser(XML_Parser parser, parley_expat_arena *arena) {
    XML_ParserFree(parser);
    parley_expat_arena_destroy(arena);
}
#endif
