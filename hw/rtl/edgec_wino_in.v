`timescale 1ns / 1ps
// edgec RTL kernel library: the Winograd input transform of F(M x M, 3 x 3), M = 2 or 4
// (edgec/ir/winograd.py has the matrices and the meaning). N = M + 2, P = N*N, CF = C/SIMD.
// In: per tile its N x N window from edgec_swg (N x N at stride M), N*N*CF words in
// (a, b, cf) order, SIMD channels per word, IB-bit elements (IS signed, IBIP bipolar).
// Out: per tile P*CF words in (p, cf) order, p = i*N + j, element s of word (p, cf)
//   V[i][j][c] = sum over a, b of BT[i][a] * BT[j][b] * d[a][b][c],  c = cf*SIMD + s,
// as VB-bit two's complement (the backend sizes VB to hold every V).
// A tile is read (one word per cycle), then written (one word per cycle when the output
// register is free): 2*P*CF cycles per tile, as the HLS kernel. The tile sits in P
// memories of CF words; each output word is computed from them combinationally (the
// function v_word at the output register's input, evaluated once per word in simulation),
// the constant coefficients as shifts and adds (BT d BT^T, rows then columns), in W-bit
// arithmetic that wraps: exact modulo 2^W, hence exact once cut to VB bits.
// tlast marks the last output word of each frame of TILES tiles.
module edgec_wino_in #(
    parameter M = 2,
    parameter C = 1,
    parameter SIMD = 1,
    parameter IB = 2,
    parameter IS = 0,
    parameter IBIP = 0,
    parameter VB = 8,
    parameter TILES = 1
) (
    input wire clk,
    input wire rst_n,
    input wire [SIMD*IB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [SIMD*VB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam N = M + 2;
    localparam P = N * N;
    localparam CF = C / SIMD;
    localparam XW = SIMD * IB;
    localparam W = (VB > IB + 1) ? VB : IB + 1;  // arithmetic width: holds an input element
    localparam QW = $clog2(P);
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam TLW = TILES > 1 ? $clog2(TILES) : 1;
    localparam integer P_L = P - 1, CF_L = CF - 1, TILES_L = TILES - 1;
    localparam [QW-1:0] Q_LAST = P_L[QW-1:0];
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];
    localparam [TLW-1:0] TILE_LAST = TILES_L[TLW-1:0];

    // BT[i][a]: row i, entry a in byte 5 - a (two's complement); F(2x2) rows use a < 4
    function [47:0] bt_row(input integer i);
        begin
            if (M == 2)
                case (i)
                    0: bt_row = 48'h01_00_FF_00_00_00;
                    1: bt_row = 48'h00_01_01_00_00_00;
                    2: bt_row = 48'h00_FF_01_00_00_00;
                    default: bt_row = 48'h00_01_00_FF_00_00;
                endcase
            else
                case (i)
                    0: bt_row = 48'h04_00_FB_00_01_00;
                    1: bt_row = 48'h00_FC_FC_01_01_00;
                    2: bt_row = 48'h00_04_FC_FF_01_00;
                    3: bt_row = 48'h00_FE_FF_02_01_00;
                    4: bt_row = 48'h00_02_FF_FE_01_00;
                    default: bt_row = 48'h00_04_00_FB_00_01;
                endcase
        end
    endfunction

    function integer bt(input integer i, input integer a);
        reg [47:0] row;
        reg [7:0] e;
        begin
            row = bt_row(i);
            e = row[(5-a)*8+:8];
            bt = {{24{e[7]}}, e};
        end
    endfunction

    // x * c at W bits (edgec_mulc.vh, shared with the other transform)
`include "edgec_mulc.vh"

    // V = BT d BT^T of one channel: d[a][b] at [(a*N + b)*W +: W], V[i][j] at [(i*N + j)*W +: W]
    function [P*W-1:0] transform(input [P*W-1:0] d);
        reg [P*W-1:0] t;  // t[i][b] = sum over a of BT[i][a] * d[a][b]
        reg [W-1:0] acc;
        integer i, j, k;
        begin
            for (i = 0; i < N; i = i + 1)
                for (j = 0; j < N; j = j + 1) begin
                    acc = {W{1'b0}};
                    for (k = 0; k < N; k = k + 1) if (bt(i, k) != 0) acc = acc + mulc(d[(k*N+j)*W+:W], bt(i, k));
                    t[(i*N+j)*W+:W] = acc;
                end
            for (i = 0; i < N; i = i + 1)
                for (j = 0; j < N; j = j + 1) begin
                    acc = {W{1'b0}};
                    for (k = 0; k < N; k = k + 1) if (bt(j, k) != 0) acc = acc + mulc(t[(i*N+k)*W+:W], bt(j, k));
                    transform[(i*N+j)*W+:W] = acc;
                end
        end
    endfunction

    reg [QW-1:0] q;  // the position (a*N + b reading, p writing) and channel fold
    reg [CFW-1:0] cf;
    reg [TLW-1:0] tile;
    reg writing;
    wire unused_tlast = s_tlast;  // frames are counted, not marked, on the input
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = !writing;
    wire rd = !writing && s_tvalid;
    wire wr = writing && out_free;
    wire last = (q == Q_LAST) && (cf == CF_LAST);

    // every lane's V of the tile at fold cf (the lanes' elements of word (k, cf) at
    // [k*XW + s*IB +: IB]), the word at position p
    function [SIMD*VB-1:0] v_word(input [P*XW-1:0] words, input [QW-1:0] p);
        reg [P*W-1:0] d, v;
        reg [IB-1:0] xr;
        integer s, k;
        begin
            for (s = 0; s < SIMD; s = s + 1) begin
                for (k = 0; k < P; k = k + 1) begin
                    xr = words[k*XW+s*IB+:IB];
                    d[k*W+:W] = (IBIP != 0) ? (xr[0] ? {{(W - 1) {1'b0}}, 1'b1} : {W{1'b1}})
                              : (IS != 0) ? {{(W - IB) {xr[IB-1]}}, xr} : {{(W - IB) {1'b0}}, xr};
                end
                v = transform(d);
                v_word[s*VB+:VB] = v[p*W+:VB];
            end
        end
    endfunction

    wire [P*XW-1:0] tile_words;  // word (k, cf) of the tile, k = a*N + b
    genvar k;
    generate
        for (k = 0; k < P; k = k + 1) begin : pos
            localparam integer K_I = k;
            localparam [QW-1:0] K_Q = K_I[QW-1:0];
            reg [XW-1:0] mem[0:CF-1];
            always @(posedge clk) if (rd && q == K_Q) mem[cf] <= s_tdata;
            assign tile_words[k*XW+:XW] = mem[cf];
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            q <= 0;
            cf <= 0;
            tile <= 0;
            writing <= 1'b0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (wr) begin
                m_tdata <= v_word(tile_words, q);
                m_tvalid <= 1'b1;
                m_tlast <= last && (tile == TILE_LAST);
            end
            if (rd || wr) begin
                if (cf == CF_LAST) begin
                    cf <= 0;
                    q <= (q == Q_LAST) ? {QW{1'b0}} : q + 1'b1;
                end else cf <= cf + 1'b1;
                if (last) begin
                    writing <= !writing;
                    if (writing) tile <= (tile == TILE_LAST) ? {TLW{1'b0}} : tile + 1'b1;
                end
            end
        end
    end
endmodule
