`timescale 1ns / 1ps
// edgec RTL kernel library: constant padding of a map (a Pad that does not fold into the
// window of its consumer), (H, W, C) -> (PT + H + PB, PL + W + PR, C), row by row, PE
// channels per word. The border holds VALUE (the code as an OB-bit element; bipolar: 1
// for +1) in every lane; inside it each input element is widened to OB bits (IB-bit
// input, IS signed, IBIP bipolar: one bit, 1 meaning +1, becomes -1 or +1 unless the
// output stays bipolar, OB = 1). One output word per cycle: (PT + H + PB)*(PL + W + PR)*
// C/PE cycles per frame, as the HLS kernel. tlast marks the last word of each frame. A
// frame's leading border waits for its first input word to be offered (not taken): no
// word of a frame leaves before the frame has begun.
module edgec_pad #(
    parameter H = 2,
    parameter W = 2,
    parameter C = 1,
    parameter PT = 1,
    parameter PL = 1,
    parameter PB = 1,
    parameter PR = 1,
    parameter PE = 1,
    parameter IB = 4,
    parameter IS = 0,
    parameter IBIP = 0,
    parameter OB = 4,
    parameter VALUE = 0
) (
    input wire clk,
    input wire rst_n,
    input wire [PE*IB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [PE*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CF = C / PE;
    localparam OH = PT + H + PB;
    localparam OW = PL + W + PR;
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam YW = $clog2(OH + 1);  // one bit more than y needs: y - PT compares unsigned
    localparam XW = $clog2(OW + 1);
    localparam integer CF_L = CF - 1, OH_L = OH - 1, OW_L = OW - 1;
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];
    localparam [YW-1:0] Y_LAST = OH_L[YW-1:0];
    localparam [XW-1:0] X_LAST = OW_L[XW-1:0];
    localparam [YW-1:0] Y_LO = PT[YW-1:0];
    localparam [YW-1:0] H_Y = H[YW-1:0];
    localparam [XW-1:0] X_LO = PL[XW-1:0];
    localparam [XW-1:0] W_X = W[XW-1:0];
    localparam [OB-1:0] V = VALUE[OB-1:0];
    reg [YW-1:0] y;
    reg [XW-1:0] x;
    reg [CFW-1:0] cf;
    wire [YW-1:0] dy = y - Y_LO;  // wraps above H in the rows above the map
    wire [XW-1:0] dx = x - X_LO;
    wire body = dy < H_Y && dx < W_X;
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = body && out_free;
    reg started;  // the frame's first input word has been offered
    wire fire = out_free && (s_tvalid || (!body && started));  // a border word: once the frame has begun
    wire unused_last = s_tlast;
    wire cf_end = cf == CF_LAST, x_end = x == X_LAST, y_end = y == Y_LAST;

    reg [PE*OB-1:0] wi;
    integer p;
    always @* begin
        for (p = 0; p < PE; p = p + 1) begin
            if (IBIP != 0 && OB > 1) wi[p*OB+:OB] = s_tdata[p*IB] ? {{(OB - 1) {1'b0}}, 1'b1} : {OB{1'b1}};
            else if (IS != 0) wi[p*OB+:OB] = {{(OB - IB) {s_tdata[p*IB+IB-1]}}, s_tdata[p*IB+:IB]};
            else wi[p*OB+:OB] = {{(OB - IB) {1'b0}}, s_tdata[p*IB+:IB]};
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            y <= 0; x <= 0; cf <= 0;
            started <= 1'b0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (fire) begin
                m_tdata <= body ? wi : {PE{V}};
                m_tvalid <= 1'b1;
                m_tlast <= cf_end && x_end && y_end;
                started <= !(cf_end && x_end && y_end);
                cf <= cf_end ? {CFW{1'b0}} : cf + 1'b1;
                if (cf_end) begin
                    x <= x_end ? {XW{1'b0}} : x + 1'b1;
                    if (x_end) y <= y_end ? {YW{1'b0}} : y + 1'b1;
                end
            end
        end
    end
endmodule
