#ifndef MESA_CFUSE_SHIM_H
#define MESA_CFUSE_SHIM_H

// 312 (not 35): with Debian's versioned symbols, fuse_session_loop_mt is then a real function taking an opaque
// loop config, which Swift can import (PLATFORM-NOTES.md).
#define FUSE_USE_VERSION 312
// No _FILE_OFFSET_BITS: off_t is 64-bit on the 64-bit platforms we build for (fuse_common.h asserts it), and
// defining it makes glibc declare statvfs and flock differently from Swift's Glibc module, which Clang rejects
// ("has different definitions in different modules") in any Swift file that sees both.

#include <fuse_lowlevel.h>

/// FUSE_ARGS_INIT is a macro; Swift cannot import it.
static inline struct fuse_args CFuse_fuse_args_init(int argc, char **argv) {
    return (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
}

#endif
