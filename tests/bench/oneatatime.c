/* oneatatime: the "one order at a time" anchor of the wan bench
 * (tests/bench/bench_wan.py): what a SmartPanel-style cron does today.
 * For each of N orders: a new curl easy handle, POST
 * key+action=add+service+link+quantity to URL, wait for the reply,
 * curl_easy_cleanup, next order.  One handle each, so every order pays a
 * fresh TCP connection and a full TLS handshake (no session cache is
 * shared between handles).
 *
 *   oneatatime --url https://127.0.0.1:P/api/v2 --key K [--cainfo CA.pem]
 *              [--n 20] [--service 1] [--quantity 100] [--tag T]
 *              [--timeout-ms 10000] [--http1] [--status-ids M]
 *
 * With --status-ids M it measures the network instead: one handle kept
 * alive, a first call to open the connection (not counted), then N calls
 * of action=status for the IDs 1..M, each one round trip on that
 * connection: the floor of a kept-alive upstream read on this path.
 *
 * Prints one line per figure: "orders_per_s=", "ok=", "errors=", "p50_ms=",
 * "p99_ms=", "mean_ms=", "tls=" (the TLS version libcurl reported for the
 * last handshake), "http=" (the HTTP version).  Exits 1 when no
 * order succeeded. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *want = "\"order\"";

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	int *ok = arg;

	if (memmem(p, sz * n, want, strlen(want)) != NULL)
		*ok = 1;
	return sz * n;
}

/* CURLOPT_DEBUGFUNCTION: the TLS version from libcurl's own
 * "SSL connection using TLSv1.3 / ..." line. */
static int
debug_fn(CURL *e, curl_infotype type, char *data, size_t size, void *arg)
{
	char *tls = arg;
	static const char pfx[] = "SSL connection using ";

	(void)e;
	if (type == CURLINFO_TEXT && size > sizeof(pfx) &&
	    memcmp(data, pfx, sizeof(pfx) - 1) == 0) {
		size_t n = 0;

		data += sizeof(pfx) - 1;
		size -= sizeof(pfx) - 1;
		while (n < size && n < 31 && data[n] != ' ' && data[n] != '\n')
			n++;
		memcpy(tls, data, n);
		tls[n] = '\0';
	}
	return 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *key = "", *cainfo = NULL, *tag = "one";
	long n = 20, service = 1, quantity = 100, timeout_ms = 10000, ids = 0;
	int http1 = 0, errors = 0, okn = 0;
	char tls[32] = "none";
	long httpver = 0;
	double *lat, t0, total;
	CURL *kept = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--http1") == 0) {
			http1 = 1;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "oneatatime: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--url") == 0)
			url = v;
		else if (strcmp(a, "--key") == 0)
			key = v;
		else if (strcmp(a, "--cainfo") == 0)
			cainfo = v;
		else if (strcmp(a, "--tag") == 0)
			tag = v;
		else if (strcmp(a, "--n") == 0)
			n = atol(v);
		else if (strcmp(a, "--service") == 0)
			service = atol(v);
		else if (strcmp(a, "--quantity") == 0)
			quantity = atol(v);
		else if (strcmp(a, "--timeout-ms") == 0)
			timeout_ms = atol(v);
		else if (strcmp(a, "--status-ids") == 0)
			ids = atol(v);
		else {
			fprintf(stderr, "oneatatime: unknown option %s\n", a);
			return 2;
		}
	}
	if (url == NULL || n <= 0 || ids < 0 || ids > 100) {
		fprintf(stderr, "usage: oneatatime --url URL --key K [--cainfo "
		                "CA] [--n N]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	lat = calloc((size_t)n, sizeof(*lat));
	if (lat == NULL)
		return 1;
	if (ids > 0) {
		want = "\"status\"";
		if ((kept = curl_easy_init()) == NULL)
			return 1;
	}
	t0 = now_ms();
	for (long i = ids > 0 ? -1 : 0; i < n; i++) {
		CURL *e = kept != NULL ? kept : curl_easy_init();
		char *ekey, body[1024];
		int ok = 0;
		long code = 0;
		double s;
		CURLcode rc;

		if (e == NULL)
			return 1;
		ekey = curl_easy_escape(e, key, 0);
		if (ids > 0) {
			int off =
			    snprintf(body, sizeof(body),
			             "key=%s&action=status&orders=1", ekey);

			for (long j = 2;
			     j <= ids && off < (int)sizeof(body) - 8; j++)
				off += snprintf(body + off,
				                sizeof(body) - (size_t)off,
				                "%%2C%ld", j);
		} else
			snprintf(body, sizeof(body),
			         "key=%s&action=add&service=%ld&link=https%%3A%"
			         "%2F%%2Fone.example%%2F%s%%2F%ld"
			         "&quantity=%ld",
			         ekey, service, tag, i, quantity);
		curl_free(ekey);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &ok);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
		curl_easy_setopt(e, CURLOPT_PROXY, "");
		if (cainfo != NULL)
			curl_easy_setopt(e, CURLOPT_CAINFO, cainfo);
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_fn);
		curl_easy_setopt(e, CURLOPT_DEBUGDATA, tls);
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
		if (http1)
			curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
			                 CURL_HTTP_VERSION_1_1);
		s = now_ms();
		rc = curl_easy_perform(e);
		if (i < 0) { /* the kept connection opened: not counted */
			t0 = now_ms();
			continue;
		}
		lat[i] = now_ms() - s;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK && code == 200 && ok) {
			okn++;
			curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &httpver);
		} else {
			errors++;
			if (errors <= 5)
				fprintf(
				    stderr,
				    "oneatatime: order %ld: %s (HTTP %ld)\n", i,
				    curl_easy_strerror(rc), code);
		}
		if (e != kept)
			curl_easy_cleanup(e);
	}
	if (kept != NULL)
		curl_easy_cleanup(kept);
	total = now_ms() - t0;
	qsort(lat, (size_t)n, sizeof(*lat), cmp_d);
	{
		double sum = 0;

		for (long i = 0; i < n; i++)
			sum += lat[i];
		printf("orders_per_s=%.3f\n", okn / (total / 1e3));
		printf("ok=%d\nerrors=%d\n", okn, errors);
		printf("p50_ms=%.2f\n", lat[n / 2]);
		printf("p99_ms=%.2f\n",
		       lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]);
		printf("mean_ms=%.2f\n", sum / n);
		printf("tls=%s\n", tls);
		printf("http=%s\n", httpver == CURL_HTTP_VERSION_2_0 ? "2"
		                    : httpver == CURL_HTTP_VERSION_1_1
		                        ? "1.1"
		                        : "other");
	}
	free(lat);
	curl_global_cleanup();
	return okn > 0 ? 0 : 1;
}
