/* fuzz_linknorm.c - libFuzzer target for lib/linknorm.c.
 *
 * Any bytes: the key fits a buffer of the input's length + 1 (exactly that
 * big, so ASan sees any overflow), its length is what linknorm returned,
 * a smaller buffer fails cleanly, and normalising a web key again gives
 * the key itself (for keys without white space: real links have none).  Seeds:
 * tests/fuzz/corpus/linknorm. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linknorm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size > 0 ? size : 1);
	char *out = malloc(size + 1), *again = malloc(size + 1);
	int n, m;

	if (in == NULL || out == NULL || again == NULL)
		goto done;
	if (size > 0)
		memcpy(in, data, size);
	n = linknorm(in, size, out, size + 1);
	if (n >= 0) {
		if ((size_t)n > size || strlen(out) != (size_t)n)
			abort();
		/* Too small by one: refused, never truncated. */
		if (linknorm(in, size, again, (size_t)n) != -1)
			abort();
		/* Keys of real links: no white space or control bytes. */
		int plain = 1;

		for (int i = 0; i < n; i++)
			if ((unsigned char)out[i] <= ' ' || out[i] == 0x7f)
				plain = 0;
		if (plain && memchr(out, '/', (size_t)n) != NULL &&
		    memchr(out, ':', (size_t)n) == NULL &&
		    memchr(out, '@', (size_t)n) == NULL &&
		    memchr(out, '#', (size_t)n) == NULL) {
			m = linknorm(out, (size_t)n, again, size + 1);
			if (m != n || memcmp(out, again, (size_t)n) != 0)
				abort();
		}
	}
done:
	free(again);
	free(out);
	free(in);
	return 0;
}
