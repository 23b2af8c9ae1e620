#ifndef MESA_CGIT2_SHIM_H
#define MESA_CGIT2_SHIM_H

#include <git2.h>
// A custom object database backend over MesaStore needs the backend and repository internals.
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

// git_libgit2_opts is variadic, which Swift cannot call: one wrapper per option used.
static inline int mesa_git_set_strict_object_creation(int enabled) {
    return git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, enabled);
}

#endif
