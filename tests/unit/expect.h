/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The assertions of the unit tests: each failed one prints where and what,
 * and counts; a test's main() ends with expect_report().
 */
#ifndef UM_TEST_EXPECT_H
#define UM_TEST_EXPECT_H

#include <stdio.h>
#include <string.h>

static int failures;

#define EXPECT(cond)                                                           \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__,      \
				__LINE__, #cond);                              \
			failures++;                                            \
		}                                                              \
	} while (0)

#define EXPECT_INT(got, want)                                                  \
	do {                                                                   \
		long long g_ = (got), w_ = (want);                             \
		if (g_ != w_) {                                                \
			fprintf(stderr, "%s:%d: %s: got %lld, want %lld\n",    \
				__FILE__, __LINE__, #got, g_, w_);             \
			failures++;                                            \
		}                                                              \
	} while (0)

#define EXPECT_STR(got, want)                                                  \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_))) {  \
			fprintf(stderr,                                        \
				"%s:%d: %s: got \"%s\", want \"%s\"\n",        \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)",  \
				w_ ? w_ : "(null)");                           \
			failures++;                                            \
		}                                                              \
	} while (0)

/* The exit status of a test program: 0 if nothing failed. */
static inline int expect_report(const char *name)
{
	if (failures) {
		fprintf(stderr, "%s: %d failure(s)\n", name, failures);
		return 1;
	}
	printf("%s: all tests passed\n", name);
	return 0;
}

#endif
