// edgec HLS kernel library: stream plumbing — AXI4-Stream adapters, data-width
// converters, stream duplication (fork for residual branches).
// FIFOs between stages are hls::stream objects with '#pragma HLS STREAM depth=...' in the
// generated top function.
#ifndef EDGEC_STREAMS_H
#define EDGEC_STREAMS_H

#include "common.h"

namespace edgec {

// AXI4-Stream beats of AW bits -> words of W <= AW bits (the low W bits of each beat),
// WORDS beats per frame. TLAST, TKEEP and TSTRB are not looked at: the frame count says
// where the batch ends.
template <int W, int AW, unsigned WORDS, int ID>
void axis_in(hls::stream<typename axis_word<AW>::type> &in, hls::stream<ap_uint<W> > &out, unsigned frames) {
    const unsigned long long TRIP = WORDS;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        typename axis_word<AW>::type beat = in.read();
        ap_uint<W> w = beat.data(W - 1, 0);
        out.write(w);
    }
}

// Words of W bits -> AXI4-Stream beats of AW >= W bits, zero-extended, WORDS per frame;
// TLAST once per batch, on the last beat of the last frame (the DMA's S2MM transfer of the
// whole batch ends there; docs/hardware.md).
template <int W, int AW, unsigned WORDS, int ID>
void axis_out(hls::stream<ap_uint<W> > &in, hls::stream<typename axis_word<AW>::type> &out, unsigned frames) {
    const unsigned long long TRIP = WORDS;
    const unsigned long long total = frames * TRIP;
    for (unsigned long long i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        typename axis_word<AW>::type beat;
        beat.data = ap_uint<AW>(in.read());
        beat.keep = -1;
        beat.strb = -1;
        beat.last = (i == total - 1) ? 1 : 0;
        out.write(beat);
    }
}

// Data-width converter: words of IN_E elements of B bits -> words of OUT_E elements, for
// ELEMS elements per frame (a multiple of both). One loop iteration reads at most one
// word and writes at most one: max(ELEMS/IN_E, ELEMS/OUT_E) iterations per frame.
template <unsigned IN_E, unsigned OUT_E, int B, unsigned ELEMS, int ID>
void dwc(hls::stream<ap_uint<IN_E * B> > &in, hls::stream<ap_uint<OUT_E * B> > &out, unsigned frames) {
    const unsigned long long TRIP = ELEMS / IN_E > ELEMS / OUT_E ? ELEMS / IN_E : ELEMS / OUT_E;
    ap_uint<(IN_E + OUT_E) * B> buf = 0;
    unsigned count = 0;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        if (IN_E < OUT_E || count < OUT_E) {
            ap_uint<(IN_E + OUT_E) *B> x = in.read();
            buf |= x << (count * B);
            count += IN_E;
        }
        if (count >= OUT_E) {
            ap_uint<OUT_E * B> o = buf(OUT_E * B - 1, 0);
            out.write(o);
            buf >>= OUT_E * B;
            count -= OUT_E;
        }
    }
}

// Fork: every word of 'in' to both outputs, WORDS per frame.
template <int W, unsigned WORDS, int ID>
void duplicate(hls::stream<ap_uint<W> > &in, hls::stream<ap_uint<W> > &out0, hls::stream<ap_uint<W> > &out1,
               unsigned frames) {
    const unsigned long long TRIP = WORDS;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<W> w = in.read();
        out0.write(w);
        out1.write(w);
    }
}

}  // namespace edgec

#endif
