/* auth.h - API keys: generated at random, stored only as a hash. */
#ifndef PANELMUX_AUTH_H
#define PANELMUX_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_BYTES 16                 /* 128 random bits */
#define AUTH_KEY_LEN (AUTH_KEY_BYTES * 2) /* as lower-case hex */
#define AUTH_KEY_MAX 256                  /* longest key accepted on input */
#define AUTH_HASH_LEN 32                  /* SHA-256 */

/* Fill KEY (AUTH_KEY_LEN + 1 bytes) with a new random key; 0 or -1 if the
 * system's random source failed. */
int auth_key_generate(char *key);
/* SHA-256 of the LEN bytes of KEY into HASH (AUTH_HASH_LEN bytes). */
void auth_key_hash(const char *key, size_t len, uint8_t *hash);
/* Release what auth_key_hash keeps between calls (at exit). */
void auth_cleanup(void);

#endif
