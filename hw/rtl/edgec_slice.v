`timescale 1ns / 1ps
// edgec RTL kernel library: the channels [LO, HI) of a (PIXELS, C) stream (one output of
// a split or chunk), PE channels of B bits per word (PE divides C, LO and HI): every
// input word is taken, the words LO/PE .. HI/PE - 1 of each pixel are passed on, the
// others dropped. One input word per cycle: PIXELS*C/PE cycles per frame, as the HLS
// kernel. tlast marks the last word of each frame (the last pixel's last kept word).
module edgec_slice #(
    parameter C = 2,
    parameter LO = 0,
    parameter HI = 1,
    parameter PE = 1,
    parameter PIXELS = 1,
    parameter B = 4
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
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam PXW = PIXELS > 1 ? $clog2(PIXELS) : 1;
    localparam integer CF_L = CF - 1, PX_L = PIXELS - 1, CLO_I = LO / PE, NK_I = (HI - LO) / PE, NK_L = NK_I - 1;
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];
    localparam [PXW-1:0] PX_LAST = PX_L[PXW-1:0];
    localparam [CFW:0] CLO = CLO_I[CFW:0];
    localparam [CFW:0] NK = NK_I[CFW:0];  // the words kept of each pixel
    localparam [CFW:0] NK_LAST = NK_L[CFW:0];
    reg [CFW-1:0] cf;  // the word of the pixel
    reg [PXW-1:0] px;
    wire [CFW:0] k = {1'b0, cf} - CLO;  // the kept word's index; wraps above NK below LO
    wire keep = k < NK;
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = !keep || out_free;  // a dropped word needs no room
    wire fire = s_tvalid && s_tready;
    wire unused_last = s_tlast;

    always @(posedge clk) begin
        if (!rst_n) begin
            cf <= 0;
            px <= 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (fire) begin
                if (keep) begin
                    m_tdata <= s_tdata;
                    m_tlast <= px == PX_LAST && k == NK_LAST;
                    m_tvalid <= 1'b1;
                end
                cf <= (cf == CF_LAST) ? {CFW{1'b0}} : cf + 1'b1;
                if (cf == CF_LAST) px <= (px == PX_LAST) ? {PXW{1'b0}} : px + 1'b1;
            end
        end
    end
endmodule
