// edgec HLS kernel library (header only, Vitis HLS style). See hw/hls/README.md.
#ifndef EDGEC_H
#define EDGEC_H

#include "common.h"
#include "eltwise.h"
#include "mvau.h"
#include "pad.h"
#include "smvau.h"
#include "streams.h"
#include "swg.h"
#include "upsample.h"
#include "window.h"
#include "winograd.h"

#endif
