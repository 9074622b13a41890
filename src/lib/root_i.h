/* SPDX-License-Identifier: MIT */
/*
 * root_i.h - the root handle's layout, shared by root.c and node.c.
 */
#ifndef HMF_ROOT_I_H
#define HMF_ROOT_I_H

struct hmf_root {
	int fd;     /* O_PATH descriptor of ROOT; immutable */
	char *path; /* as given to hmf_root_open; immutable */
	unsigned flags;
};

#endif
