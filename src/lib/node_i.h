/* SPDX-License-Identifier: MIT */
/*
 * node_i.h - node handles for places that are not reachable by a node
 * path (the root's private staging area), for root.c.
 */
#ifndef HMF_NODE_I_H
#define HMF_NODE_I_H

#include "hmf/node.h"

/* Open directory @name of @dirfd as a node of @r; @what names it. */
int node_open_at(struct hmf_root *r, int dirfd, const char *name,
		 const char *what, struct hmf_node **out);

#endif
