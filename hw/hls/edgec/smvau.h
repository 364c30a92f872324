// edgec HLS kernel library: the sparse matrix-vector-activation unit (placeholder).
#ifndef EDGEC_SMVAU_H
#define EDGEC_SMVAU_H

#include "common.h"

#endif
