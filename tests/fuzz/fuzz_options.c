// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the option parsers (src/options.c): the input, as a
 * NUL-terminated string, goes through um_options_parse() and
 * um_layers_split().  The parser prints nothing: unknown options are
 * errors, and the options without effect are collected in cfg.noeffect.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_config cfg;
	char err[256];
	char *s = malloc(size + 1);
	char **v = NULL;
	size_t n = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	um_config_init(&cfg);
	if (um_options_parse(&cfg, s, err, sizeof(err)) < 0) {
		/* A message is one line, NUL-terminated within err. */
		if (!memchr(err, '\0', sizeof(err)) || strchr(err, '\n'))
			abort();
	}
	if (cfg.nlowers > UM_MAX_LOWERS || (cfg.lowers && !cfg.nlowers) ||
	    (cfg.lowers && cfg.lowers[cfg.nlowers]))
		abort();
	/* Names from the table only, each once, never an empty one. */
	if (cfg.noeffect && (!*cfg.noeffect || strstr(cfg.noeffect, ",,") ||
			     cfg.noeffect[strlen(cfg.noeffect) - 1] == ','))
		abort();
	um_config_release(&cfg);

	if (um_layers_split(s, &v, &n) == 0) {
		if (!n || n > UM_MAX_LOWERS || v[n])
			abort();
		for (size_t i = 0; i < n; i++)
			if (!v[i][0])
				abort();
		um_strv_free(v);
	}
	free(s);
	return 0;
}
