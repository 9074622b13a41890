/* SPDX-License-Identifier: MIT */
/*
 * hmf.h - libhmf, the Hierarchical Memmap Format in C. Include this one
 * header; the modules below document each function.
 */
#ifndef HMF_H
#define HMF_H

#include "hmf/dtype.h"
#include "hmf/error.h"
#include "hmf/fsck.h"
#include "hmf/layout.h"
#include "hmf/meta.h"
#include "hmf/node.h"
#include "hmf/npy.h"
#include "hmf/path.h"
#include "hmf/root.h"

#define HMF_VERSION "0.1.0"

#endif
