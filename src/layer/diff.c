// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * diff: the changes an upper records, like `docker diff`: "A PATH" added,
 * "C PATH" changed, "D PATH" deleted, sorted by path.
 *
 * With --lowers the answer is exact: a name the lowers show is C, one
 * they do not is A, and a whiteout hiding nothing is no change.  Without
 * them the upper's own markers decide: a copied-up object carries an
 * origin (or metacopy) marker and an opaque directory replaced something,
 * so those are C and the rest A.  A renamed directory is A with all its
 * content (its old name is D through the whiteout left there).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layer/cmd.h"
#include "layer/hlindex.h"
#include "layer/walk.h"
#include "markers.h"
#include "util.h"

struct change {
	char kind;
	char *path; /* "/a/b" */
};

struct diff {
	struct layer_stack s;
	bool lowers_known;
	struct change *v;
	size_t n, cap;
};

static int add(struct diff *df, char kind, const char *path)
{
	if (df->n == df->cap) {
		size_t nc = df->cap ? df->cap * 2 : 64;
		struct change *nv = realloc(df->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		df->v = nv;
		df->cap = nc;
	}
	if (asprintf(&df->v[df->n].path, "/%s", path) < 0)
		return -ENOMEM;
	df->v[df->n++].kind = kind;
	return 0;
}

static int fail(const char *path, int err)
{
	fprintf(stderr, "unionmount-layer diff: /%s: %s\n", path,
		strerror(-err));
	return err;
}

/* Everything visible in d, all added (a renamed directory's content). */
static int diff_full(struct diff *df, const char *path, struct lw_dir *d)
{
	char **names;
	size_t n;
	int r = lw_list(d, &names, &n);

	if (r < 0)
		return fail(path, r);
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *child = lw_path_join(path, names[i]);
		struct lw_obj o;

		if (!child) {
			r = fail(path, -ENOMEM);
			break;
		}
		lw_obj_init(&o);
		r = lw_lookup(&df->s, d, 0, names[i], &o);
		if (r < 0)
			r = fail(child, r);
		else if (o.layer >= 0)
			r = add(df, 'A', child);
		if (r == 0 && o.layer >= 0 && S_ISDIR(o.st.st_mode))
			r = diff_full(df, child, &o.dir);
		lw_obj_release(&o);
	}
	lw_free_names(names);
	return r;
}

/* Did the lowers (or, without them, the markers) have this name? */
static int existed(struct diff *df, struct lw_dir *d, const char *name,
		   const struct lw_obj *o, bool below_known)
{
	struct lw_obj lo;
	int r;

	if (!below_known)
		return o->metacopy || o->opaque ||
		       um_marker_has(o->dirfd, o->rname, UM_MARK_ORIGIN) ||
		       um_marker_has(o->dirfd, o->rname, UM_MARK_OVL_ORIGIN);
	lw_obj_init(&lo);
	r = lw_lookup(&df->s, d, 1, name, &lo);
	if (r == 0)
		r = lo.layer >= 0;
	lw_obj_release(&lo);
	return r;
}

static int diff_delta(struct diff *df, const char *path, struct lw_dir *d,
		      bool below_known)
{
	const struct lw_part *up = &d->part[0];
	char **names;
	size_t n;
	int r = lw_readdir(up->fd, &names, &n);

	if (r < 0)
		return fail(path, r);
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name = names[i], *target = name;
		_cleanup_free_ char *child = NULL;
		struct lw_obj o;
		struct stat st;
		enum lw_kind kind;
		int had;

		if (fstatat(up->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = fail(path, -errno);
			break;
		}
		kind = lw_classify(up, name, &st);
		if (kind == LW_OCI_OPAQUE)
			continue;
		if (kind == LW_OCI_WHITEOUT)
			target = um_oci_whiteout_target(name);
		child = lw_path_join(path, target);
		if (!child) {
			r = fail(path, -ENOMEM);
			break;
		}
		lw_obj_init(&o);
		if (kind != LW_OBJECT) {
			/* A whiteout that hides nothing changes nothing. */
			if (below_known) {
				r = lw_lookup(&df->s, d, 1, target, &o);
				if (r == 0 && o.layer >= 0)
					r = add(df, 'D', child);
			} else {
				r = add(df, 'D', child);
			}
			lw_obj_release(&o);
			continue;
		}
		r = lw_lookup(&df->s, d, 0, name, &o);
		if (r < 0 || o.layer != 0) {
			lw_obj_release(&o);
			if (r < 0)
				r = fail(child, r);
			continue;
		}
		if (S_ISDIR(o.st.st_mode) && o.redirect) {
			r = add(df, 'A', child);
			if (r == 0)
				r = diff_full(df, child, &o.dir);
			lw_obj_release(&o);
			continue;
		}
		had = existed(df, d, name, &o, below_known);
		if (had < 0)
			r = fail(child, had);
		else
			r = add(df, had ? 'C' : 'A', child);
		if (r == 0 && S_ISDIR(o.st.st_mode))
			r = diff_delta(df, child, &o.dir,
				       below_known || o.opaque);
		lw_obj_release(&o);
	}
	lw_free_names(names);
	return r;
}

static int add_indexed(void *arg, const char *path, struct lw_obj *o)
{
	return add(arg, 'C', path);
}

static int cmp_changes(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->path,
		      ((const struct change *)b)->path);
}

static int print_json(const struct diff *df)
{
	json_object *arr = json_object_new_array();
	int r = 0;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < df->n; i++) {
		json_object *e = json_object_new_object();
		char k[2] = {df->v[i].kind, 0};

		if (!e) {
			r = -ENOMEM;
			break;
		}
		json_object_object_add(e, "kind", json_object_new_string(k));
		json_object_object_add(e, "path",
				       json_object_new_string(df->v[i].path));
		json_object_array_add(arr, e);
	}
	if (r == 0)
		printf("%s\n",
		       json_object_to_json_string_ext(
			       arr, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return r;
}

static const char diff_help[] =
	"List the changes recorded in UPPER, sorted by path, one per line:\n"
	"\"A PATH\" added, \"C PATH\" changed, \"D PATH\" deleted.\n\n"
	"  --lowers L1:L2:...  the layers below UPPER, topmost first: a name\n"
	"                      they show is C, a new one A (without them the\n"
	"                      upper's origin/metacopy/opaque markers decide)\n"
	"  --json              a JSON array of {\"kind\", \"path\"} objects\n"
	"  --workdir WORK      unionmount's work directory: its hard-link\n"
	"                      index names the other changed names of lower\n"
	"                      hard links (default: .UPPER.unionmount-work)\n";

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{"lowers", required_argument, NULL, 'L'},
		{"json", no_argument, NULL, 'j'},
		{"workdir", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	struct diff df = {0};
	char **lowers = NULL;
	int nlowers = 0, c, r;
	bool json = false;
	const char *workdir = NULL;
	struct lw_dir root;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'L':
			layer_free_list(lowers);
			lowers = layer_lowers_arg("diff", optarg, &nlowers);
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			layer_need_dir("diff", "work directory", optarg);
			workdir = optarg;
			break;
		case 'h':
			layer_help("diff", diff_help);
			return 0;
		default:
			layer_usage_error("diff", "bad option \"%s\"",
					  argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		layer_usage_error("diff", "expected one UPPER directory");
	layer_need_dir("diff", "upper", argv[optind]);
	r = layer_stack_open(&df.s, argv[optind], (const char *const *)lowers,
			     nlowers);
	if (r < 0) {
		layer_free_list(lowers);
		return LAYER_EXIT_FAIL;
	}
	df.lowers_known = nlowers > 0;
	if (df.lowers_known) {
		df.s.indexfd = layer_index_open(workdir, argv[optind]);
		if (df.s.indexfd < -1) {
			fail("hard-link index", df.s.indexfd);
			df.s.indexfd = -1;
		}
	}
	r = lw_root(&df.s, 0, &root);
	if (r == 0) {
		r = diff_delta(&df, "", &root, df.lowers_known);
		lw_dir_release(&root);
		/* Names of lower hard links changed through another name. */
		if (r == 0)
			r = lw_foreach_indexed(&df.s, add_indexed, &df);
	} else {
		fail("", r);
	}
	if (r == 0) {
		qsort(df.v, df.n, sizeof(*df.v), cmp_changes);
		if (json)
			r = print_json(&df);
		else
			for (size_t i = 0; i < df.n; i++)
				printf("%c %s\n", df.v[i].kind, df.v[i].path);
		if (fflush(stdout) != 0)
			r = fail("", -errno);
	}
	for (size_t i = 0; i < df.n; i++)
		free(df.v[i].path);
	free(df.v);
	layer_stack_release(&df.s);
	layer_free_list(lowers);
	return r < 0 ? LAYER_EXIT_FAIL : 0;
}
