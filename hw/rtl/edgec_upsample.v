`timescale 1ns / 1ps
// edgec RTL kernel library: upsampling by whole factors, nearest or zero insertion, (H, W, C) ->
// (H*FH, W*FW, C), out[y][x] = in[y / FH][x / FW], PE channels of B bits per word. A line
// buffer holds one input row (W*C/PE words): the first copy of an input row takes each
// word from the input as it writes it (each pixel FW times), the FH - 1 other copies
// read the buffer. One output word per cycle: H*FH*W*FW*C/PE cycles per frame, as the
// HLS kernel. tlast marks the last word of each frame. ZERO = 1: zero insertion (a
// transposed convolution's), out[y*FH][x*FW] = in[y][x] and the B-bit code ZV (real 0) in
// every lane elsewhere; no line buffer.
module edgec_upsample #(
    parameter H = 2,
    parameter W = 2,
    parameter C = 1,
    parameter FH = 2,
    parameter FW = 2,
    parameter PE = 1,
    parameter B = 4,
    parameter ZERO = 0,
    parameter ZV = 0
) (
    input wire clk,
    input wire rst_n,
    input wire [PE*B-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [PE*B-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CF = C / PE;
    localparam DEPTH = W * CF;
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam XW = W > 1 ? $clog2(W) : 1;
    localparam YW = H > 1 ? $clog2(H) : 1;
    localparam FHW = FH > 1 ? $clog2(FH) : 1;
    localparam FWW = FW > 1 ? $clog2(FW) : 1;
    localparam AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam integer CF_L = CF - 1, W_L = W - 1, H_L = H - 1, FH_L = FH - 1, FW_L = FW - 1, CF_I = CF;
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];
    localparam [XW-1:0] X_LAST = W_L[XW-1:0];
    localparam [YW-1:0] Y_LAST = H_L[YW-1:0];
    localparam [FHW-1:0] FH_LAST = FH_L[FHW-1:0];
    localparam [FWW-1:0] FW_LAST = FW_L[FWW-1:0];
    localparam [AW-1:0] CF_A = CF_I[AW-1:0];
    localparam integer ZV_I = ZV;
    localparam [B-1:0] ZV_B = ZV_I[B-1:0];

    wire [PE*B-1:0] held;  // the word a later copy repeats: the buffer's, or the zero code
    reg [YW-1:0] y;  // input row and its copy
    reg [FHW-1:0] fy;
    reg [XW-1:0] x;  // input column and its copy
    reg [FWW-1:0] fx;
    reg [CFW-1:0] cf;
    reg [AW-1:0] base;  // x * CF: the pixel's first word in the buffer
    wire [AW-1:0] addr = base + {{(AW - CFW) {1'b0}}, cf};
    wire unused_last = s_tlast;

    wire first = (fy == 0) && (fx == 0);  // the first copy of an input pixel: read it
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = first && out_free;
    wire fire = out_free && (!first || s_tvalid);
    wire [PE*B-1:0] word = first ? s_tdata : held;
    wire cf_end = cf == CF_LAST, fx_end = fx == FW_LAST, x_end = x == X_LAST, fy_end = fy == FH_LAST;

    generate
        if (ZERO != 0) begin : g_zero
            assign held = {PE{ZV_B}};
            wire unused_addr = ^addr;
        end else begin : g_line
            reg [PE*B-1:0] line[0:DEPTH-1];
            assign held = line[addr];
            always @(posedge clk) begin
                if (first && fire) line[addr] <= s_tdata;
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            y <= 0; fy <= 0; x <= 0; fx <= 0; cf <= 0; base <= 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (fire) begin
                m_tdata <= word;
                m_tvalid <= 1'b1;
                m_tlast <= cf_end && fx_end && x_end && fy_end && y == Y_LAST;
                cf <= cf_end ? {CFW{1'b0}} : cf + 1'b1;
                if (cf_end) begin
                    fx <= fx_end ? {FWW{1'b0}} : fx + 1'b1;
                    if (fx_end) begin
                        x <= x_end ? {XW{1'b0}} : x + 1'b1;
                        base <= x_end ? {AW{1'b0}} : base + CF_A;
                        if (x_end) begin
                            fy <= fy_end ? {FHW{1'b0}} : fy + 1'b1;
                            if (fy_end) y <= (y == Y_LAST) ? {YW{1'b0}} : y + 1'b1;
                        end
                    end
                end
            end
        end
    end
endmodule
