#ifndef MESA_CFUSE_SHIM_H
#define MESA_CFUSE_SHIM_H

// 312 (not 35): with Debian's versioned symbols, fuse_session_loop_mt is then a real function taking an opaque
// loop config, which Swift can import (PLATFORM-NOTES.md).
#define FUSE_USE_VERSION 312
#define _FILE_OFFSET_BITS 64

#include <fuse_lowlevel.h>

/// FUSE_ARGS_INIT is a macro; Swift cannot import it.
static inline struct fuse_args CFuse_fuse_args_init(int argc, char **argv) {
    return (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
}

#endif
