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

/* OpenSSL 3 looks the algorithm up again on every EVP_Digest(EVP_sha256())
 * call: about half the cost of hashing a key.  Fetch it once and reuse one
 * context (the daemon is single-threaded). */
static EVP_MD *auth_md;
static EVP_MD_CTX *auth_ctx;

void
auth_key_hash(const char *key, size_t len, uint8_t *hash)
{
	unsigned int n = AUTH_HASH_LEN;

	if (auth_md == NULL) {
		auth_md = EVP_MD_fetch(NULL, "SHA256", NULL);
		auth_ctx = EVP_MD_CTX_new();
		if (auth_md == NULL || auth_ctx == NULL)
			fatalx("auth: SHA-256 unavailable");
	}
	if (EVP_DigestInit_ex2(auth_ctx, auth_md, NULL) != 1 ||
	    EVP_DigestUpdate(auth_ctx, key, len) != 1 ||
	    EVP_DigestFinal_ex(auth_ctx, hash, &n) != 1)
		fatalx("auth: SHA-256 failed");
}

void
auth_cleanup(void)
{
	EVP_MD_CTX_free(auth_ctx);
	EVP_MD_free(auth_md);
	auth_ctx = NULL;
	auth_md = NULL;
}
