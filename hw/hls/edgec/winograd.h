// edgec HLS kernel library: Winograd F(M x M, 3 x 3) transforms, M = 2 or 4, all integer
// (edgec/ir/winograd.py has the same matrices and the meaning). Between them an mvau with
// one weight set per tile position (SETS = P) multiplies the transformed inputs by U.
//
// wino_in: per tile, N*N*CF words from swg (a N x N window at stride M, (a, b, cf) order,
// SIMD channels per word; N = M + 2, CF = C / SIMD) are read, then P*CF words of
// V[i][j][c] = sum_ab BT[i][a] BT[j][b] d[a][b][c] are written in (p = i*N + j, cf) order:
// 2*P*CF loop iterations per tile.
// wino_out: per row of tiles, the TW*P*NF words of the per-position sums (p, nf) of each
// tile are read, then the row's output pixels are written in raster order (y, x, nf),
// Y[y][x][o] = sum_ij AT[y%M][i] AT[x%M][j] Mv[i*N + j][o], dropping the rows and columns
// beyond OH x OW: TH*TW*P*NF + OH*OW*NF iterations per frame.
#ifndef EDGEC_WINOGRAD_H
#define EDGEC_WINOGRAD_H

#include "common.h"

namespace edgec {

template <unsigned M>
struct WinoMat;

template <>
struct WinoMat<2> {
    static int bt(unsigned i, unsigned a) {
#pragma HLS INLINE
        static const int t[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
        return t[i][a];
    }
    static int at(unsigned y, unsigned i) {
#pragma HLS INLINE
        static const int t[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
        return t[y][i];
    }
};

template <>
struct WinoMat<4> {
    static int bt(unsigned i, unsigned a) {
#pragma HLS INLINE
        static const int t[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
        return t[i][a];
    }
    static int at(unsigned y, unsigned i) {
#pragma HLS INLINE
        static const int t[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
        return t[y][i];
    }
};

template <unsigned M, unsigned C, unsigned SIMD, class IT, class VT, unsigned TILES, int ID>
void wino_in(hls::stream<ap_uint<SIMD * IT::bits> > &in, hls::stream<ap_uint<SIMD * VT::bits> > &out,
             unsigned frames) {
    const unsigned N = M + 2, P = N * N, CF = C / SIMD;
    const unsigned long long TRIP = (unsigned long long)TILES * 2 * P * CF;  // TILES per frame
    typename IT::value_t d[P][CF][SIMD];
#pragma HLS ARRAY_PARTITION variable = d complete dim = 1
#pragma HLS ARRAY_PARTITION variable = d complete dim = 3
    unsigned pos = 0, cf = 0;  // tile position (a*N + b, or p when writing) and channel fold
    bool writing = false;
    for (unsigned long long it = 0; it < frames * TRIP; it++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        if (!writing) {
            ap_uint<SIMD * IT::bits> w = in.read();
            for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                d[pos][cf][s] = IT::get(w, s);
            }
        } else {
            const unsigned i = pos / N, j = pos % N;
            ap_uint<SIMD * VT::bits> o = 0;
            for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                ap_int<VT::bits + 4> v = 0;  // the sum fits VT; the partial sums wrap harmlessly
                for (unsigned a = 0; a < N; a++) {
#pragma HLS UNROLL
                    for (unsigned b = 0; b < N; b++) {
#pragma HLS UNROLL
                        const int k = WinoMat<M>::bt(i, a) * WinoMat<M>::bt(j, b);
                        if (k != 0) v += k * d[a * N + b][cf][s];
                    }
                }
                VT::put(o, s, v);
            }
            out.write(o);
        }
        if (++cf == CF) {
            cf = 0;
            if (++pos == P) {
                pos = 0;
                writing = !writing;
            }
        }
    }
}

template <unsigned M, unsigned MH, unsigned PE, unsigned OH, unsigned OW, class MT, class YT, int ID>
void wino_out(hls::stream<ap_uint<PE * MT::bits> > &in, hls::stream<ap_uint<PE * YT::bits> > &out, unsigned frames) {
    const unsigned N = M + 2, P = N * N, NF = MH / PE;
    const unsigned TH = (OH + M - 1) / M, TW = (OW + M - 1) / M;
    const unsigned long long TRIP = (unsigned long long)TH * TW * P * NF + (unsigned long long)OH * OW * NF;
    typename MT::value_t buf[TW][P][NF][PE];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 2
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 4
    bool reading = true;
    unsigned ty = 0, tx = 0, p = 0, nf = 0;  // reading: tile tx of row ty, position p, fold nf
    unsigned yy = 0, x = 0;                  // writing: row yy of the tile row, column x
    for (unsigned long long it = 0; it < frames * TRIP; it++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        if (reading) {
            ap_uint<PE * MT::bits> w = in.read();
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                buf[tx][p][nf][pe] = MT::get(w, pe);
            }
            if (++nf == NF) {
                nf = 0;
                if (++p == P) {
                    p = 0;
                    if (++tx == TW) {
                        tx = 0;
                        reading = false;
                    }
                }
            }
        } else {
            const unsigned t = x / M, xx = x % M;
            ap_uint<PE * YT::bits> o = 0;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                ap_int<YT::bits + 4> y = 0;
                for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
                    for (unsigned j = 0; j < N; j++) {
#pragma HLS UNROLL
                        const int k = WinoMat<M>::at(yy, i) * WinoMat<M>::at(xx, j);
                        if (k != 0) y += k * buf[t][i * N + j][nf][pe];
                    }
                }
                YT::put(o, pe, y);
            }
            out.write(o);
            const unsigned rows = (OH - ty * M < M) ? OH - ty * M : M;
            if (++nf == NF) {
                nf = 0;
                if (++x == OW) {
                    x = 0;
                    if (++yy == rows) {
                        yy = 0;
                        reading = true;
                        if (++ty == TH) ty = 0;
                    }
                }
            }
        }
    }
}

}  // namespace edgec

#endif
