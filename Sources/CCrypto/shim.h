// OpenSSL's libcrypto (Debian: libssl-dev): SHA-256 for hashing API tokens, and
// RAND_bytes for making them.
#include <openssl/sha.h>
#include <openssl/rand.h>
