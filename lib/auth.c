/* auth.c - API key generation and hashing (OpenSSL libcrypto).  Keys have
 * 128 bits of entropy, so a plain SHA-256 is enough: there is nothing to
 * brute-force that a slow hash would protect. */
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth.h"
#include "log.h"

int
auth_key_generate(char *key)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[AUTH_KEY_BYTES];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++) {
		key[2 * i] = hex[raw[i] >> 4];
		key[2 * i + 1] = hex[raw[i] & 0xf];
	}
	key[AUTH_KEY_LEN] = '\0';
	return 0;
}

void
auth_key_hash(const char *key, size_t len, uint8_t *hash)
{
	unsigned int n = AUTH_HASH_LEN;

	if (EVP_Digest(key, len, hash, &n, EVP_sha256(), NULL) != 1)
		fatalx("auth: SHA-256 unavailable");
}
