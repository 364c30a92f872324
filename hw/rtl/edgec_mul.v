`timescale 1ns / 1ps
// edgec RTL kernel library: elementwise product of two streams of codes on PE lanes,
// out = a * b (AB/BB-bit inputs, AS/BS signed, OB-bit output: wide enough for the
// product). GATE = 0: a and b have one shape, one word of each per output word. GATE = 1
// (squeeze-and-excitation): b is a per-channel gate of CF words per frame, read first and
// held, then every pixel of a (CF words) is multiplied by it; a's tlast ends the frame and
// the next gate is read. One word per cycle.
module edgec_mul #(
    parameter PE = 1,
    parameter CF = 1,
    parameter GATE = 0,
    parameter AB = 8,
    parameter AS = 0,
    parameter BB = 8,
    parameter BS = 0,
    parameter OB = 16
) (
    input wire clk,
    input wire rst_n,
    input wire [PE*AB-1:0] a_tdata,
    input wire a_tlast,
    input wire a_tvalid,
    output wire a_tready,
    input wire [PE*BB-1:0] b_tdata,
    input wire b_tlast,
    input wire b_tvalid,
    output wire b_tready,
    output reg [PE*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam integer CF_L = CF - 1;
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];

    wire out_free = !m_tvalid || m_tready;
    reg [CFW-1:0] cf;  // the word of the pixel (GATE: also the gate word being loaded)
    reg loading;  // GATE: reading the frame's gate
    reg [PE*BB-1:0] gate [0:CF-1];
    wire [PE*BB-1:0] bw = GATE != 0 ? gate[cf] : b_tdata;
    wire fire = GATE != 0 ? (!loading && a_tvalid && out_free) : (a_tvalid && b_tvalid && out_free);
    wire load = GATE != 0 && loading && b_tvalid;
    assign a_tready = GATE != 0 ? (!loading && out_free) : (b_tvalid && out_free);
    assign b_tready = GATE != 0 ? loading : (a_tvalid && out_free);
    wire unused_last = b_tlast;

    reg [PE*OB-1:0] prod;
    reg signed [AB:0] xa;
    reg signed [BB:0] xb;
    reg signed [OB-1:0] pp;  // the lanes' signed product (it fits OB bits), at OB bits
    integer p;
    always @* begin
        for (p = 0; p < PE; p = p + 1) begin
            xa = {AS != 0 ? a_tdata[p*AB+AB-1] : 1'b0, a_tdata[p*AB+:AB]};
            xb = {BS != 0 ? bw[p*BB+BB-1] : 1'b0, bw[p*BB+:BB]};
            pp = xa * xb;
            prod[p*OB+:OB] = pp;
        end
    end

    always @(posedge clk) begin
        if (load) gate[cf] <= b_tdata;
        if (!rst_n) begin
            cf <= 0;
            loading <= GATE != 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (load) begin
                cf <= (cf == CF_LAST) ? {CFW{1'b0}} : cf + 1'b1;
                if (cf == CF_LAST) loading <= 1'b0;
            end
            if (fire) begin
                m_tdata <= prod;
                m_tlast <= a_tlast;
                m_tvalid <= 1'b1;
                if (GATE != 0) begin
                    cf <= (cf == CF_LAST) ? {CFW{1'b0}} : cf + 1'b1;
                    if (a_tlast) loading <= 1'b1;
                end
            end
        end
    end
endmodule
