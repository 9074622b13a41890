/* SPDX-License-Identifier: MIT */
/*
 * root_i.h - the root handle's layout, shared by root.c and node.c.
 */
#ifndef HMF_ROOT_I_H
#define HMF_ROOT_I_H

#include <sys/types.h>

/* Every field is immutable after hmf_root_open(). */
struct hmf_root {
	int fd;	    /* O_PATH descriptor of ROOT */
	char *path; /* as given to hmf_root_open */
	unsigned flags;
	mode_t umask; /* the process's, read at open: skips needless chmods */
	uid_t euid;
	gid_t egid;
};

#endif
