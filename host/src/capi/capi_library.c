/* libartana.so's own translation unit: the C API's objects come whole from the artana_capi
 * archive (host/packaging.cmake); a shared library needs at least one source of its own. */
#include "artana/artana.h"
