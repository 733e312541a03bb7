// OpenBLAS's CBLAS interface (Debian: libopenblas-dev, BSD-3-Clause), used for the networks'
// matrix products only with the package trait `OpenBLAS`.
#include <cblas.h>
