#ifndef PARLEY_CEXPAT_SHIM_H
#define PARLEY_CEXPAT_SHIM_H
/* No _GNU_SOURCE (and so no RTLD_DEFAULT): this header is imported as a module, and system headers
   must be parsed as Glibc's module parses them, or the two modules conflict (fd_set). */
#include <dlfcn.h>
#include <expat.h>

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
#endif
