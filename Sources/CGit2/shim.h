#ifndef MESA_CGIT2_SHIM_H
#define MESA_CGIT2_SHIM_H

#include <git2.h>
// A custom object database backend over MesaStore needs the backend and repository internals.
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#endif
