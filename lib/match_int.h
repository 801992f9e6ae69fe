/* match_int.h - what the matcher's files share (match.c, match_norm.c,
 * match_words.c, match_render.c). */
#ifndef PANELMUX_MATCH_INT_H
#define PANELMUX_MATCH_INT_H

#include <stddef.h>

#include "match.h"

#define MATCH_TOK_SZ 48 /* bytes of one canonical token, with NUL */

typedef char match_tok[MATCH_TOK_SZ];

/* The canonical word of the folded spelling W: "" for a stop word, NULL
 * when W is not in the vocabulary (match_words.c).  The table is sorted at
 * the first call. */
const char *match_word(const char *w);
/* The canonical word that A followed by B stand for together ("tik" "tok":
 * "tiktok"), or NULL. */
const char *match_phrase(const char *a, const char *b);

/* NAME's canonical tokens (stop words dropped) into TOKS, at most MAX;
 * returns how many. */
size_t match_canon(const char *name, match_tok *toks, size_t max);

/* Read IT's features from its name's tokens NT (N of them) and its
 * category's CT (C of them) and its row; F->tokens is left empty.  The
 * name's tokens that say no feature are marked in PLAIN (1 = plain), for
 * the name similarity. */
void match_read(const struct match_item *it, const match_tok *nt, size_t n,
                const match_tok *ct, size_t c, struct match_features *f,
                unsigned char *plain);

#endif
