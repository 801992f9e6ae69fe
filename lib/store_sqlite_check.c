/* store_sqlite_check.c - the operator's reading on SQLite: check (the
 * core's invariants plus integrity_check), ledger totals, the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_core.h"
#include "store_sqlite.h"

enum store_result
store_sqlite_check_totals(struct store *st, money_t *totals)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q;
	char kind[16];
	int rc;

	memset(totals, 0, 4 * sizeof(*totals));
	if (sqlite3_prepare_v2(
	        s->db, "SELECT kind, SUM(amount) FROM ledger GROUP BY kind", -1,
	        &q, NULL) != SQLITE_OK) {
		store_sqlite_log_error(s, "ledger totals");
		return STORE_ERROR;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		store_sqlite_copy_text(q, 0, kind, sizeof(kind));
		for (int k = LEDGER_DEPOSIT; k <= LEDGER_ADJUSTMENT; k++)
			if (strcmp(kind,
			           ledger_kind_name((enum ledger_kind)k)) == 0)
				totals[k] = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

int
store_sqlite_check_report(struct store *st, store_report_row_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	struct report_row row;
	sqlite3_stmt *q;
	int rc, n = 0;

	if (sqlite3_prepare_v2(
	        s->db,
	        "SELECT o.upstream, o.service_id, COUNT(*), SUM(o.charge),"
	        " SUM(COALESCE((SELECT amount FROM ledger l"
	        "  WHERE l.order_id = o.id AND l.kind = 'refund'), 0)),"
	        " SUM(CASE WHEN o.state IN ('rejected', 'canceled',"
	        "  'refunded') THEN 0 ELSE COALESCE(o.cost, 0) END)"
	        " FROM orders o GROUP BY o.upstream, o.service_id"
	        " ORDER BY o.upstream, o.service_id",
	        -1, &q, NULL) != SQLITE_OK) {
		store_sqlite_log_error(s, "report");
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		store_sqlite_copy_text(q, 0, row.upstream,
		                       sizeof(row.upstream));
		row.service_id = sqlite3_column_int64(q, 1);
		row.orders = sqlite3_column_int64(q, 2);
		row.charged = sqlite3_column_int64(q, 3);
		row.refunded = sqlite3_column_int64(q, 4);
		row.cost = sqlite3_column_int64(q, 5);
		n++;
		if (cb(&row, arg) != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "report");
		return -1;
	}
	return n;
}

/*
 * check: SPEC section 6's invariants, each violation reported in words.
 */
/* Run invariant INV's query and record its rows. */
static int
sqlite_check_rows(struct store_sqlite *s, struct store_core_check *c,
                  const struct store_invariant *inv)
{
	const char *names[8];
	int64_t vals[8];
	sqlite3_stmt *q;
	int rc, n;

	if (sqlite3_prepare_v2(s->db, inv->sql, -1, &q, NULL) != SQLITE_OK) {
		store_sqlite_log_error(s, "check prepare");
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		n = 0;
		for (int i = 1; i < sqlite3_column_count(q) && n < 8; i++) {
			names[n] = sqlite3_column_name(q, i);
			vals[n++] = sqlite3_column_int64(q, i);
		}
		store_core_check_row(c, inv, sqlite3_column_int64(q, 0), n,
		                     names, vals);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "check");
		return -1;
	}
	return 0;
}

/* The core's invariants, the refunds of every order, integrity_check. */
static int
sqlite_check_all(struct store_sqlite *s, struct store_core_check *c)
{
	sqlite3_stmt *q;
	struct order o;
	int rc;

	for (int i = 0; i < STORE_INVARIANT_COUNT; i++)
		if (sqlite_check_rows(s, c, &store_invariants[i]) != 0)
			return -1;
	if (sqlite3_prepare_v2(s->db, "SELECT " ORDER_COLS " FROM orders o", -1,
	                       &q, NULL) != SQLITE_OK) {
		store_sqlite_log_error(s, "check prepare");
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		store_sqlite_read_order(q, &o);
		store_core_check_order(c, s->decimals, &o);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "check orders");
		return -1;
	}

	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &q, NULL) !=
	    SQLITE_OK) {
		store_sqlite_log_error(s, "check prepare");
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 0);

		if (t == NULL || strcmp(t, "ok") != 0)
			store_core_check_add(c, "integrity_check: %s",
			                     t != NULL ? t : "(null)");
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "integrity_check");
		return -1;
	}
	return 0;
}

int
store_sqlite_check_run(struct store *st, store_report_cb report, void *arg)
{
	struct store_core_check c = {NULL, 0, 0};
	int failed = sqlite_check_all(sq(st), &c) != 0;

	return store_core_check_done(&c, failed, report, arg);
}
