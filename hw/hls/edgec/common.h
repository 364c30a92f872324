// edgec HLS kernel library: element types, stream words, cycle counters, AXI4-Stream beats.
//
// A stream word packs N elements of one type; element i sits in bits [i*B, (i+1)*B).
// Element types:
//   IntT<B, S>  a B-bit two's-complement (S = true) or unsigned integer;
//   Bip         a bipolar value (-1 or +1) held in one bit, bit 1 meaning +1.
// Every kernel counts the iterations of its pipelined (II=1) loop in C simulation with
// EDGEC_TICK(ID); the counters are compiled out for synthesis.
//
// Two views of the same source: synthesis (__SYNTHESIS__, or EDGEC_SYNTH_VIEW to compile
// what synthesis sees with g++: exact-width constant arrays, no counters) and C
// simulation (the default). Both use one AXI4-Stream beat type, hls::axis<ap_uint<W>,
// 0, 0, 0> from ap_axi_sdata.h (the vendor's in Vitis; edgec's stand-in, hls/compat/,
// under g++), so the top's ports cannot differ between them.
#ifndef EDGEC_COMMON_H
#define EDGEC_COMMON_H

#include <ap_axi_sdata.h>
#include <ap_int.h>
#include <hls_stream.h>

#if defined(__SYNTHESIS__) || defined(EDGEC_SYNTH_VIEW)
#define EDGEC_SYNTH 1
#define EDGEC_TICK(id)
#else
#define EDGEC_TICK(id) (::edgec::counters()[(id)]++)
#endif

namespace edgec {

#ifndef EDGEC_SYNTH
static const int MAX_STAGES = 1024;
// Loop iterations per stage id, summed over every call (C simulation only).
inline unsigned long long *counters() {
    static unsigned long long c[MAX_STAGES];
    return c;
}
#endif

// Element types of constant arrays (weights, thresholds). Synthesis sees ap_int/ap_uint
// of the exact width; C simulation stores the same values as plain 64-bit integers,
// which g++ initialises statically (large ap_int aggregates take minutes to compile).
// Words wider than 64 bits stay ap_uint in both.
template <int W, bool WIDE = (W > 64)>
struct rom_word {
#ifdef EDGEC_SYNTH
    typedef ap_uint<W> type;
#else
    typedef unsigned long long type;
#endif
};
template <int W>
struct rom_word<W, true> {
    typedef ap_uint<W> type;
};
template <int W>
struct rom_int {
#ifdef EDGEC_SYNTH
    typedef ap_int<W> type;
#else
    typedef long long type;
#endif
};

template <bool S, int B>
struct int_of {
    typedef ap_int<B> type;
};
template <int B>
struct int_of<false, B> {
    typedef ap_uint<B> type;
};

// A B-bit integer element (signed when S).
template <int B, bool S>
struct IntT {
    static const int bits = B;
    typedef typename int_of<S, B>::type value_t;

    template <int W>
    static value_t get(const ap_uint<W> &w, unsigned i) {
#pragma HLS INLINE
        ap_uint<B> u = w.range(i * B + B - 1, i * B);
        value_t v = u;
        return v;
    }
    template <int W, class V>
    static void put(ap_uint<W> &w, unsigned i, const V &v) {
#pragma HLS INLINE
        value_t t = v;
        ap_uint<B> u = t;
        w.range(i * B + B - 1, i * B) = u;
    }
};

// A bipolar element: one bit, 1 means +1 and 0 means -1.
struct Bip {
    static const int bits = 1;
    typedef ap_int<2> value_t;

    template <int W>
    static value_t get(const ap_uint<W> &w, unsigned i) {
#pragma HLS INLINE
        return w[i] ? value_t(1) : value_t(-1);
    }
    template <int W, class V>
    static void put(ap_uint<W> &w, unsigned i, const V &v) {
#pragma HLS INLINE
        w[i] = (v > 0) ? 1 : 0;
    }
};

// Floor division by a positive constant (C++ '/' truncates towards zero).
template <class T>
T floor_div(T a, long long d) {
#pragma HLS INLINE
    T q = a / d;
    if (a < 0 && q * d != a) q -= 1;
    return q;
}

// The AXI4-Stream beat of the top's ports: W data bits, TKEEP, TSTRB, TLAST.
template <int W>
struct axis_word {
    typedef hls::axis<ap_uint<W>, 0, 0, 0> type;
};

}  // namespace edgec

#endif
