/* SPDX-License-Identifier: MIT */
/*
 * plan_i.h - dtype promotion and value conversion for ingest (plan.c).
 */
#ifndef HMF_INGEST_PLAN_I_H
#define HMF_INGEST_PLAN_I_H

#include <stdbool.h>
#include <stdint.h>

#include "hmf/dtype.h"

/* One numeric value in the widest forms. */
struct plan_value {
	int64_t i;
	uint64_t u;
	double f, im;
	bool is_int, is_unsigned;
};

/*
 * numpy's np.promote_types(@a, @b) for the dtypes HMF stores, in native
 * byte order (two equal dtypes stay as they are). Strings and numbers do
 * not mix: -EINVAL with a message.
 */
int plan_promote(const struct hmf_dtype *a, const struct hmf_dtype *b,
		 struct hmf_dtype *out);

/* @d in native (little-endian) byte order. */
int make_native(const struct hmf_dtype *d, struct hmf_dtype *out);

/* Convert one item at @src of @from into @to at @dst (numpy's cast). */
void plan_convert(const struct hmf_dtype *from, const unsigned char *src,
		  const struct hmf_dtype *to, unsigned char *dst);

/* Read one numeric item. */
void plan_load(const struct hmf_dtype *d, const unsigned char *src,
	       struct plan_value *v);

#endif
