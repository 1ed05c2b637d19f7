// Debian's libopenblas-dev: the CBLAS interface (cblas_sgemm) and the
// thread-count setter.
#include <cblas.h>
