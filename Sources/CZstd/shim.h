#ifndef MESA_CZSTD_SHIM_H
#define MESA_CZSTD_SHIM_H

#include <zstd.h>

#endif
