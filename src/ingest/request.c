/* SPDX-License-Identifier: MIT */
/*
 * request.c - the ingest request and job status as JSON. The ingest
 * layer's only cJSON user (the format library's is src/lib/meta.c):
 * everything else works on the plain structs of ingest.h.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hmf/error.h"
#include "hmf/ingest.h"
#include "hmf/path.h"

static int bad(const char *why, const char *what)
{
	return hmf_err(-EINVAL, "ingest request: %s%s%s", why, what ? ": " : "",
		       what ? what : "");
}

static int dup_str(const cJSON *j, const char *field, char **out)
{
	if (!cJSON_IsString(j) || !j->valuestring[0])
		return bad("must be a non-empty string", field);
	*out = strdup(j->valuestring);
	return *out ? 0 : -ENOMEM;
}

/* -EINVAL when object @j has a key twice (cJSON keeps both). */
static int check_unique(const cJSON *j, const char *what)
{
	const cJSON *a, *b;

	cJSON_ArrayForEach(a, j)
	{
		for (b = a->next; b; b = b->next)
			if (a->string && b->string &&
			    strcmp(a->string, b->string) == 0)
				return bad(what, a->string);
	}
	return 0;
}

static int parse_arrays(const cJSON *j, struct hmf_ingest_request *q)
{
	const cJSON *a, *c;
	size_t n = 0;
	int rc;

	if (!cJSON_IsObject(j) || !j->child)
		return bad("\"arrays\" must be a non-empty object", NULL);
	if (check_unique(j, "an array is named twice") < 0)
		return -EINVAL;
	q->arrays = calloc((size_t)cJSON_GetArraySize(j), sizeof(*q->arrays));
	if (!q->arrays)
		return -ENOMEM;
	cJSON_ArrayForEach(a, j)
	{
		struct hmf_ingest_array *arr = &q->arrays[n];

		if (hmf_name_check(a->string) < 0)
			return bad("bad array name", a->string);
		arr->name = strdup(a->string);
		if (!arr->name)
			return -ENOMEM;
		q->narrays = ++n;
		if (cJSON_IsString(a)) {
			arr->one_column = true;
			arr->cols = calloc(1, sizeof(*arr->cols));
			if (!arr->cols)
				return -ENOMEM;
			rc = dup_str(a, a->string, &arr->cols[0]);
			if (rc < 0)
				return rc;
			arr->ncols = 1;
			continue;
		}
		if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
			return bad(
				"an array's columns must be a column name or a non-empty list of them",
				a->string);
		arr->cols = calloc((size_t)cJSON_GetArraySize(a),
				   sizeof(*arr->cols));
		if (!arr->cols)
			return -ENOMEM;
		cJSON_ArrayForEach(c, a)
		{
			rc = dup_str(c, a->string, &arr->cols[arr->ncols]);
			if (rc < 0)
				return rc;
			arr->ncols++;
		}
	}
	return 0;
}

static int parse_dtypes(const cJSON *j, struct hmf_ingest_request *q)
{
	const cJSON *d;
	size_t n = (size_t)cJSON_GetArraySize(j);
	int rc;

	if (!cJSON_IsObject(j))
		return bad("\"dtypes\" must be an object", NULL);
	if (check_unique(j, "a column's dtype is given twice") < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	q->dtype_cols = calloc(n, sizeof(*q->dtype_cols));
	q->dtypes = calloc(n, sizeof(*q->dtypes));
	if (!q->dtype_cols || !q->dtypes)
		return -ENOMEM;
	cJSON_ArrayForEach(d, j)
	{
		if (!cJSON_IsString(d))
			return bad("a dtype must be a string", d->string);
		rc = hmf_dtype_parse(d->valuestring, &q->dtypes[q->ndtypes]);
		if (rc < 0)
			return rc;
		q->dtype_cols[q->ndtypes] = strdup(d->string);
		if (!q->dtype_cols[q->ndtypes])
			return -ENOMEM;
		q->ndtypes++;
	}
	return 0;
}

static int parse_csv_opts(const cJSON *j, struct hmf_ingest_request *q)
{
	const cJSON *e;

	if (!cJSON_IsObject(j) ||
	    check_unique(j, "a key of \"csv\" is given twice") < 0)
		return bad("\"csv\" must be an object with each key once",
			   NULL);
	cJSON_ArrayForEach(e, j)
	{
		if (strcmp(e->string, "delimiter") == 0) {
			if (!cJSON_IsString(e) || strlen(e->valuestring) != 1 ||
			    strchr("\"\r\n", e->valuestring[0]))
				return bad(
					"\"delimiter\" must be one byte (not a quote or newline)",
					NULL);
			q->delimiter = e->valuestring[0];
		} else if (strcmp(e->string, "header") == 0) {
			if (!cJSON_IsBool(e))
				return bad("\"header\" must be true or false",
					   NULL);
			q->header = cJSON_IsTrue(e);
		} else {
			return bad("unknown key in \"csv\"", e->string);
		}
	}
	return 0;
}

static int parse_format(const cJSON *j, struct hmf_ingest_request *q)
{
	if (!cJSON_IsString(j))
		return bad("\"format\" must be \"csv\" or \"npy\"", NULL);
	if (strcmp(j->valuestring, "csv") == 0)
		q->format = HMF_INGEST_CSV;
	else if (strcmp(j->valuestring, "npy") == 0)
		q->format = HMF_INGEST_NPY;
	else if (strcmp(j->valuestring, "hmf") == 0)
		q->format = HMF_INGEST_HMF;
	else
		return bad("unknown format", j->valuestring);
	return 0;
}

static int parse_field(const cJSON *e, struct hmf_ingest_request *q)
{
	const char *k = e->string;

	if (strcmp(k, "source") == 0)
		return dup_str(e, k, &q->source);
	if (strcmp(k, "dest") == 0)
		return dup_str(e, k, &q->dest);
	if (strcmp(k, "format") == 0)
		return parse_format(e, q);
	if (strcmp(k, "csv") == 0)
		return parse_csv_opts(e, q);
	if (strcmp(k, "arrays") == 0)
		return parse_arrays(e, q);
	if (strcmp(k, "dtypes") == 0)
		return parse_dtypes(e, q);
	if (strcmp(k, "groupby") == 0 || strcmp(k, "orderby") == 0) {
		if (cJSON_IsNull(e))
			return 0;
		return dup_str(e, k, k[0] == 'g' ? &q->groupby : &q->orderby);
	}
	if (strcmp(k, "ascending") == 0 || strcmp(k, "overwrite") == 0) {
		if (!cJSON_IsBool(e))
			return bad("must be true or false", k);
		if (k[0] == 'a')
			q->ascending = cJSON_IsTrue(e);
		else
			q->overwrite = cJSON_IsTrue(e);
		return 0;
	}
	if (strcmp(k, "threads") == 0) {
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 ||
		    e->valuedouble > 1024 ||
		    floor(e->valuedouble) != e->valuedouble)
			return bad("\"threads\" must be an integer 0..1024",
				   NULL);
		q->threads = (unsigned)e->valuedouble;
		return 0;
	}
	return bad("unknown key", k);
}

/* Check the paths and fill in what the request left to defaults. */
static int finish(struct hmf_ingest_request *q)
{
	const char *names[HMF_PATH_MAX / 2];
	char buf[HMF_PATH_MAX];
	size_t len;
	int rc;

	if (!q->source)
		return bad("\"source\" is missing", NULL);
	if (!q->arrays)
		return bad("\"arrays\" is missing", NULL);
	if (!q->dest && !(q->dest = strdup("/")))
		return -ENOMEM;
	rc = hmf_path_split(q->dest, buf, sizeof(buf), names, HMF_PATH_MAX / 2);
	if (rc < 0)
		return rc;
	if (strncmp(q->source, "hmf:", 4) == 0) {
		if (q->format && q->format != HMF_INGEST_HMF)
			return bad(
				"an \"hmf:\" source is an array of this root, not CSV or NPY",
				NULL);
		q->format = HMF_INGEST_HMF;
		memmove(q->source, q->source + 4, strlen(q->source + 4) + 1);
		rc = hmf_path_split(q->source, buf, sizeof(buf), names,
				    HMF_PATH_MAX / 2);
		if (rc < 0)
			return rc;
	} else if (q->source[0] != '/') {
		return bad("\"source\" must be an absolute path or hmf:/path",
			   q->source);
	} else if (q->format == HMF_INGEST_HMF) {
		/* "format": "hmf" with a plain path: the same rules as hmf: */
		rc = hmf_path_split(q->source, buf, sizeof(buf), names,
				    HMF_PATH_MAX / 2);
		if (rc < 0)
			return rc;
	} else if (!q->format) {
		len = strlen(q->source);
		q->format = len > 4 && strcmp(q->source + len - 4, ".npy") == 0
				    ? HMF_INGEST_NPY
				    : HMF_INGEST_CSV;
	}
	return 0;
}

int hmf_ingest_request_parse(const char *text, size_t len,
			     struct hmf_ingest_request **out)
{
	struct hmf_ingest_request *q;
	const cJSON *e;
	cJSON *j;
	int rc = 0;

	if (len > HMF_INGEST_REQUEST_MAX)
		return hmf_err(-EFBIG,
			       "ingest request of %zu bytes is over 1 MiB",
			       len);
	j = cJSON_ParseWithLength(text, len);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return bad("not a JSON object", NULL);
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		cJSON_Delete(j);
		return -ENOMEM;
	}
	q->delimiter = ',';
	q->header = true;
	q->ascending = true;
	/* each field is taken once: a repeated key is a mistake, not an edit */
	rc = check_unique(j, "a key is given twice");
	cJSON_ArrayForEach(e, j)
	{
		if (rc < 0)
			break;
		rc = parse_field(e, q);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		rc = finish(q);
	if (rc == 0 && !(q->text = cJSON_PrintUnformatted(j)))
		rc = -ENOMEM;
	cJSON_Delete(j);
	if (rc < 0) {
		hmf_ingest_request_free(q);
		return rc;
	}
	*out = q;
	return 0;
}

void hmf_ingest_request_free(struct hmf_ingest_request *q)
{
	size_t i, k;

	if (!q)
		return;
	for (i = 0; i < q->narrays; i++) {
		for (k = 0; k < q->arrays[i].ncols; k++)
			free(q->arrays[i].cols[k]);
		free(q->arrays[i].cols);
		free(q->arrays[i].name);
	}
	free(q->arrays);
	for (i = 0; i < q->ndtypes; i++)
		free(q->dtype_cols[i]);
	free(q->dtype_cols);
	free(q->dtypes);
	free(q->source);
	free(q->dest);
	free(q->groupby);
	free(q->orderby);
	free(q->text);
	free(q);
}

static bool add_num(cJSON *o, const char *k, uint64_t v)
{
	return cJSON_AddNumberToObject(o, k, (double)v) != NULL;
}

char *hmf_ingest_status_json(uint64_t id, const char *state,
			     const struct hmf_ingest_request *q,
			     const struct hmf_ingest_progress *p,
			     double seconds, const char *error)
{
	cJSON *j = cJSON_CreateObject(), *prog, *req;
	bool ok;
	char *s = NULL;

	if (!j)
		return NULL;
	ok = add_num(j, "id", id) && cJSON_AddStringToObject(j, "state", state);
	req = ok && q && q->text ? cJSON_Parse(q->text) : NULL;
	if (ok && req && !cJSON_AddItemToObject(j, "request", req)) {
		cJSON_Delete(req);
		ok = false;
	} else if (ok && !req) {
		ok = cJSON_AddNullToObject(j, "request") != NULL;
	}
	prog = ok ? cJSON_AddObjectToObject(j, "progress") : NULL;
	ok = prog != NULL;
	if (ok && p)
		ok = add_num(prog, "rows", atomic_load(&p->table.rows)) &&
		     add_num(prog, "source_bytes_read",
			     atomic_load(&p->table.source_bytes_read)) &&
		     add_num(prog, "source_bytes",
			     atomic_load(&p->table.source_bytes)) &&
		     add_num(prog, "arrays_written",
			     atomic_load(&p->arrays_written)) &&
		     add_num(prog, "arrays_total",
			     atomic_load(&p->arrays_total)) &&
		     add_num(prog, "bytes_written",
			     atomic_load(&p->bytes_written));
	ok = ok && cJSON_AddNumberToObject(j, "seconds", seconds) &&
	     (error ? cJSON_AddStringToObject(j, "error", error) != NULL
		    : cJSON_AddNullToObject(j, "error") != NULL);
	if (ok)
		s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}
