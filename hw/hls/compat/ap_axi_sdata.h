// A stand-in for the vendor's ap_axi_sdata.h, for C simulation with g++ and the open
// ap_types headers only (the vendor's header ships with Vitis HLS, not with them). It
// declares hls::axis<T, WUser, WId, WDest> as UG1399 documents it: the members data,
// keep, strb, user, last, id and dest, keep and strb one bit per byte of data. A side
// channel of width 0 is a 1-bit member that stays 0 (edgec uses none of them).
// The Vitis project (build_hls.tcl) never sees this file: it is not on its include path,
// so synthesis and C/RTL co-simulation use the vendor's header and the same members.
#ifndef EDGEC_COMPAT_AP_AXI_SDATA_H
#define EDGEC_COMPAT_AP_AXI_SDATA_H

#include <ap_int.h>
#include <hls_stream.h>

namespace hls {

template <int W>
struct axis_side {
    typedef ap_uint<W> type;
};
template <>
struct axis_side<0> {
    typedef ap_uint<1> type;
};

template <typename T, int WUser, int WId, int WDest>
struct axis {
    T data;
    ap_uint<(T::width + 7) / 8> keep;
    ap_uint<(T::width + 7) / 8> strb;
    typename axis_side<WUser>::type user;
    ap_uint<1> last;
    typename axis_side<WId>::type id;
    typename axis_side<WDest>::type dest;
    axis() : data(0), keep(0), strb(0), user(0), last(0), id(0), dest(0) {}
};

}  // namespace hls

#endif
