`timescale 1ns / 1ps
// edgec RTL kernel library: the Winograd output transform of F(M x M, 3 x 3), M = 2 or 4
// (edgec/ir/winograd.py), back to raster order. N = M + 2, P = N*N, NF = MH/PE, the
// TH x TW tiles cover the OH x OW output (TH = ceil(OH/M), TW = ceil(OW/M)).
// In: tiles in raster order (ty, tx), per tile P*NF words in (p, nf) order (the
// per-position sums of the mvau with SETS = P), PE channels per word, signed MB bits.
// Out: the (OH, OW, MH) map in (y, x, nf) order, element pe of a word (o = nf*PE + pe)
//   Y[y][x][o] = sum over i, j of AT[y%M][i] * AT[x%M][j] * Mv_tile(y/M, x/M)[i*N + j][o]
// as YB-bit two's complement; the rows and columns of edge tiles beyond OH x OW are
// dropped. Per row of tiles: its TW*P*NF words are read (one per cycle), then its
// R*OW*NF output words written (one per cycle when the output register is free; R =
// min(M, OH - ty*M)): TH*TW*P*NF + OH*OW*NF cycles per frame, as the HLS kernel.
// The row of tiles sits in P memories of TW*NF words (word tx*NF + nf); each output word
// is computed from them combinationally (the function y_word at the output register's
// input), AT Mv AT^T with the constant coefficients as shifts and adds, in W-bit
// arithmetic that wraps (exact once cut to YB bits).
// tlast marks the last output word of each frame.
module edgec_wino_out #(
    parameter M = 2,
    parameter MH = 1,
    parameter PE = 1,
    parameter MB = 8,
    parameter YB = 8,
    parameter OH = 2,
    parameter OW = 2
) (
    input wire clk,
    input wire rst_n,
    input wire [PE*MB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [PE*YB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam N = M + 2;
    localparam P = N * N;
    localparam NF = MH / PE;
    localparam TH = (OH + M - 1) / M;
    localparam TW = (OW + M - 1) / M;
    localparam XW = PE * MB;
    localparam W = (YB > MB) ? YB : MB + 1;  // arithmetic width: holds an input element
    localparam DEPTH = TW * NF;
    localparam AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam QW = $clog2(P);
    localparam NFW = NF > 1 ? $clog2(NF) : 1;
    localparam MW = $clog2(M);
    localparam OXW = OW > 1 ? $clog2(OW) : 1;
    localparam TYW = TH > 1 ? $clog2(TH) : 1;
    localparam integer P_L = P - 1, NF_L = NF - 1, M_L = M - 1, OW_L = OW - 1, TH_L = TH - 1;
    localparam integer BASE_L = (TW - 1) * NF, R_EDGE = OH - (TH - 1) * M - 1;
    localparam [QW-1:0] Q_LAST = P_L[QW-1:0];
    localparam [NFW-1:0] NF_LAST = NF_L[NFW-1:0];
    localparam [MW-1:0] M_LAST = M_L[MW-1:0], R_LAST_EDGE = R_EDGE[MW-1:0];
    localparam [OXW-1:0] OX_LAST = OW_L[OXW-1:0];
    localparam [TYW-1:0] TY_LAST = TH_L[TYW-1:0];
    localparam [AW-1:0] BASE_LAST = BASE_L[AW-1:0], NF_A = NF_L[AW-1:0] + 1'b1;

    // AT[y][i]: row y, entry i in byte 5 - i (two's complement); F(2x2) rows use i < 4
    function [47:0] at_row(input integer y);
        begin
            if (M == 2)
                case (y)
                    0: at_row = 48'h01_01_01_00_00_00;
                    default: at_row = 48'h00_01_FF_FF_00_00;
                endcase
            else
                case (y)
                    0: at_row = 48'h01_01_01_01_01_00;
                    1: at_row = 48'h00_01_FF_02_FE_00;
                    2: at_row = 48'h00_01_01_04_04_00;
                    default: at_row = 48'h00_01_FF_08_F8_01;
                endcase
        end
    endfunction

    function integer at(input integer y, input integer i);
        reg [47:0] row;
        reg [7:0] e;
        begin
            row = at_row(y);
            e = row[(5-i)*8+:8];
            at = {{24{e[7]}}, e};
        end
    endfunction

    // x * c at W bits (edgec_mulc.vh, shared with the other transform)
`include "edgec_mulc.vh"

    // Y = AT Mv AT^T of one channel: Mv[i][j] at [(i*N + j)*W +: W], Y[r][c] at [(r*M + c)*W +: W]
    function [M*M*W-1:0] transform(input [P*W-1:0] mv);
        reg [M*N*W-1:0] t;  // t[r][j] = sum over i of AT[r][i] * Mv[i][j]
        reg [W-1:0] acc;
        integer r, j, k;
        begin
            for (r = 0; r < M; r = r + 1)
                for (j = 0; j < N; j = j + 1) begin
                    acc = {W{1'b0}};
                    for (k = 0; k < N; k = k + 1) if (at(r, k) != 0) acc = acc + mulc(mv[(k*N+j)*W+:W], at(r, k));
                    t[(r*N+j)*W+:W] = acc;
                end
            for (r = 0; r < M; r = r + 1)
                for (j = 0; j < M; j = j + 1) begin
                    acc = {W{1'b0}};
                    for (k = 0; k < N; k = k + 1) if (at(j, k) != 0) acc = acc + mulc(t[(r*N+k)*W+:W], at(j, k));
                    transform[(r*M+j)*W+:W] = acc;
                end
        end
    endfunction

    // reading: tile tx (base = tx*NF), position q, fold nf; writing: row r of the row of
    // tiles ty, column ox (in tile tx = ox/M, base = tx*NF, at xm = ox%M), fold nf
    reg writing;
    reg [QW-1:0] q;
    reg [NFW-1:0] nf;
    reg [AW-1:0] base;
    reg [MW-1:0] r, xm;
    reg [OXW-1:0] ox;
    reg [TYW-1:0] ty;
    wire unused_tlast = s_tlast;  // frames are counted, not marked, on the input
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = !writing;
    wire rd = !writing && s_tvalid;
    wire wr = writing && out_free;
    wire [AW:0] addr_w = {1'b0, base} + {{(AW + 1 - NFW) {1'b0}}, nf};
    wire [AW-1:0] addr = addr_w[AW-1:0];
    wire unused_addr = addr_w[AW];
    wire last_nf = (nf == NF_LAST);
    wire row_read = last_nf && (q == Q_LAST) && (base == BASE_LAST);
    wire last_r = (ty == TY_LAST) ? (r == R_LAST_EDGE) : (r == M_LAST);
    wire last_ox = last_nf && (ox == OX_LAST);

    // every lane's Y of tile tx at fold nf (the lanes' elements of word (k, nf) at
    // [k*XW + e*MB +: MB]), the word at row yr, column yc of the tile
    function [PE*YB-1:0] y_word(input [P*XW-1:0] words, input [MW-1:0] yr, input [MW-1:0] yc);
        reg [P*W-1:0] mv;
        reg [M*M*W-1:0] y;
        reg [MB-1:0] xr;
        integer e, k;
        begin
            for (e = 0; e < PE; e = e + 1) begin
                for (k = 0; k < P; k = k + 1) begin
                    xr = words[k*XW+e*MB+:MB];
                    mv[k*W+:W] = {{(W - MB) {xr[MB-1]}}, xr};
                end
                y = transform(mv);
                y_word[e*YB+:YB] = y[{yr, yc}*W+:YB];  // yr*M + yc
            end
        end
    endfunction

    wire [P*XW-1:0] tile_words;  // word (k, nf) of tile tx
    genvar k;
    generate
        for (k = 0; k < P; k = k + 1) begin : pos
            localparam integer K_I = k;
            localparam [QW-1:0] K_Q = K_I[QW-1:0];
            reg [XW-1:0] mem[0:DEPTH-1];
            always @(posedge clk) if (rd && q == K_Q) mem[addr] <= s_tdata;
            assign tile_words[k*XW+:XW] = mem[addr];
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            writing <= 1'b0;
            q <= 0;
            nf <= 0;
            base <= 0;
            r <= 0;
            xm <= 0;
            ox <= 0;
            ty <= 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (rd) begin
                nf <= last_nf ? {NFW{1'b0}} : nf + 1'b1;
                if (last_nf) begin
                    q <= (q == Q_LAST) ? {QW{1'b0}} : q + 1'b1;
                    if (q == Q_LAST) base <= (base == BASE_LAST) ? {AW{1'b0}} : base + NF_A;
                end
                if (row_read) writing <= 1'b1;
            end
            if (wr) begin
                m_tdata <= y_word(tile_words, r, xm);
                m_tvalid <= 1'b1;
                m_tlast <= last_ox && last_r && (ty == TY_LAST);
                nf <= last_nf ? {NFW{1'b0}} : nf + 1'b1;
                if (last_ox) begin
                    ox <= 0;
                    xm <= 0;
                    base <= 0;
                    if (last_r) begin
                        r <= 0;
                        writing <= 1'b0;
                        ty <= (ty == TY_LAST) ? {TYW{1'b0}} : ty + 1'b1;
                    end else r <= r + 1'b1;
                end else if (last_nf) begin
                    ox <= ox + 1'b1;
                    xm <= (xm == M_LAST) ? {MW{1'b0}} : xm + 1'b1;
                    if (xm == M_LAST) base <= base + NF_A;
                end
            end
        end
    end
endmodule
