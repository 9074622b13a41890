/* SPDX-License-Identifier: MIT */
/*
 * meta_i.h - metadata I/O variants for node.c that save system calls on
 * the hot paths of the mount (lookup and create).
 */
#ifndef HMF_META_I_H
#define HMF_META_I_H

#include <sys/stat.h>

#include "hmf/meta.h"

/* hmf_meta_load(), also returning the stat of the .hmf it read. */
int meta_load_stat(int dirfd, const char *what, struct hmf_meta *m,
		   struct stat *st);

/* hmf_meta_save(), also returning the stat of the new .hmf. */
int meta_save_stat(int dirfd, const struct hmf_meta *m, bool durable,
		   struct stat *st);

/*
 * Write @m as a new ".hmf" in @dirfd (a private directory being built:
 * no temporary file needed). Fills @st with the written file's stat.
 */
int meta_write_new(int dirfd, const struct hmf_meta *m, struct stat *st);

#endif
