// COIN-OR Cbc's C interface (Debian: coinor-libcbc-dev, EPL-2.0), used only by the
// cross-check solver behind the package trait `Cbc`.
#include <coin/Cbc_C_Interface.h>
