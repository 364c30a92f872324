`timescale 1ns / 1ps
// edgec RTL kernel library: sliding-window generator over a KH-row line buffer.
// In: the (IH, IW, C) map row by row, SIMD channels per word. Out: for every output pixel
// its KH x KW window in (ky, kx, c) order, SIMD channels per word; positions outside the
// map hold PAD. Each cycle reads one input word (while rows the next output row needs are
// missing) or writes one window word: IH*IW*C/SIMD + OH*OW*KH*KW*C/SIMD cycles per frame,
// as the HLS kernel. Elements change type on the way: IB-bit inputs (IS signed, IBIP
// bipolar) to OB-bit outputs (a bipolar map padded with 0 leaves as 2-bit integers).
// tlast marks the last window word of each frame.
module edgec_swg #(
    parameter IH = 4,
    parameter IW = 4,
    parameter C = 1,
    parameter KH = 3,
    parameter KW = 3,
    parameter SH = 1,
    parameter SW = 1,
    parameter PT = 1,
    parameter PL = 1,
    parameter PB = 1,
    parameter PR = 1,
    parameter SIMD = 1,
    parameter IB = 8,
    parameter IS = 0,
    parameter IBIP = 0,
    parameter OB = 8,
    parameter PAD = 0
) (
    input wire clk,
    input wire rst_n,
    input wire [SIMD*IB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [SIMD*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CF = C / SIMD;
    localparam OH = (IH + PT + PB - KH) / SH + 1;
    localparam OW = (IW + PL + PR - KW) / SW + 1;
    localparam DEPTH = KH * IW * CF;
    localparam integer PAD_I = PAD;
    // the pad code in the output's encoding (bipolar in one bit: 1 for +1)
    localparam integer PAD_E = (IBIP != 0 && OB == 1) ? (PAD_I > 0 ? 1 : 0) : PAD_I;
    localparam [OB-1:0] PAD_B = PAD_E[OB-1:0];
    // counter widths: every counter is sized to its range, positions are signed
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam AI = DEPTH > 1 ? $clog2(DEPTH) : 1;  // buffer index; address arithmetic in AW bits
    localparam AW = (AI > CFW ? AI : CFW) + 1;
    localparam LW = $clog2(IH + 1) + 1;
    localparam OYW = $clog2(OH + 1) + 1;
    localparam XW = IW > 1 ? $clog2(IW) : 1;
    localparam OXW = OW > 1 ? $clog2(OW) : 1;
    localparam KYW = KH > 1 ? $clog2(KH) : 1;
    localparam KXW = KW > 1 ? $clog2(KW) : 1;
    localparam RW = KH > 1 ? $clog2(KH) : 1;
    localparam YW = $clog2(IH + PT + PB + KH + SH + 1) + 2;
    localparam XPW0 = $clog2(IW + PL + PR + KW + SW + 1) + 2;
    localparam XPW = XPW0 > AW ? XPW0 : AW + 1;
    localparam integer IW_L = IW - 1, CF_L = CF - 1, OW_L = OW - 1, KH_L = KH - 1, KW_L = KW - 1, OH_L = OH - 1;
    localparam integer DEPTH_L = DEPTH - 1, ROW_I = IW * CF, KH_SH = SH % KH, ROW0_I = (KH - PT % KH) % KH;
    localparam [XW-1:0] RX_LAST = IW_L[XW-1:0];
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];
    localparam [OXW-1:0] OX_LAST = OW_L[OXW-1:0];
    localparam [KYW-1:0] KY_LAST = KH_L[KYW-1:0];
    localparam [KXW-1:0] KX_LAST = KW_L[KXW-1:0];
    localparam [OYW-1:0] OY_LAST = OH_L[OYW-1:0], OY_END = OH[OYW-1:0];
    localparam [LW-1:0] ROWS = IH[LW-1:0];
    localparam [AI-1:0] A_LAST = DEPTH_L[AI-1:0];
    localparam [AW-1:0] ROW_A = ROW_I[AW-1:0], CF_A = CF[AW-1:0];
    localparam [RW:0] KH_R = KH[RW:0], STEP_R = KH_SH[RW:0];
    localparam [RW-1:0] ROW0 = ROW0_I[RW-1:0];
    localparam integer PT_I = PT, SH_I = SH, KH_I = KH, IH_I = IH, PL_I = PL, SW_I = SW, IW_I = IW;
    localparam signed [YW-1:0] PT_Y = PT_I[YW-1:0], SH_Y = SH_I[YW-1:0], KH_Y = KH_I[YW-1:0], IH_Y = IH_I[YW-1:0];
    localparam signed [XPW-1:0] PL_X = PL_I[XPW-1:0], SW_X = SW_I[XPW-1:0], IW_X = IW_I[XPW-1:0];

    reg [SIMD*IB-1:0] lines[0:DEPTH-1];
    reg [LW-1:0] loaded;  // rows of this frame read
    reg [XW-1:0] rx;  // column and channel fold being read
    reg [CFW-1:0] rc;
    reg [AI-1:0] waddr;  // where they go: row loaded % KH of the buffer
    reg [OYW-1:0] oy;  // the window word being written: output pixel, position, fold
    reg [OXW-1:0] ox;
    reg [KYW-1:0] ky;
    reg [KXW-1:0] kx;
    reg [CFW-1:0] cf;
    reg signed [YW-1:0] ytop;  // oy * SH - PT: the map row of ky = 0
    reg signed [XPW-1:0] xleft;  // ox * SW - PL
    reg [RW-1:0] yrow;  // ytop mod KH: its buffer row
    wire unused_tlast = s_tlast;

    // rows the next output row needs; a frame starts with a read even when its first
    // rows are all padding, so that no output leaves before its frame's input arrives
    wire signed [YW-1:0] need_rows = ytop + KH_Y;
    wire [LW-1:0] need_out = (oy == OY_END || need_rows >= IH_Y) ? ROWS
                             : (need_rows <= 0) ? {LW{1'b0}} : need_rows[LW-1:0];
    wire [LW-1:0] need = (oy == 0 && need_out == 0) ? {{(LW - 1) {1'b0}}, 1'b1} : need_out;
    wire do_read = (loaded < need);
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = do_read;
    wire rd = do_read && s_tvalid;
    wire wr = !do_read && out_free;
    wire signed [YW-1:0] iy = ytop + $signed({{(YW - KYW) {1'b0}}, ky});
    wire signed [XPW-1:0] ix = xleft + $signed({{(XPW - KXW) {1'b0}}, kx});
    wire in_map = (iy >= 0) && (iy < IH_Y) && (ix >= 0) && (ix < IW_X);
    wire [RW:0] slot0 = {1'b0, yrow} + {{(RW + 1 - KYW) {1'b0}}, ky};
    wire [RW:0] slot = (slot0 >= KH_R) ? slot0 - KH_R : slot0;
    wire unused_slot = slot[RW];
    wire [AW-1:0] raddr = {{(AW - RW) {1'b0}}, slot[RW-1:0]} * ROW_A + ix[AW-1:0] * CF_A + {{(AW - CFW) {1'b0}}, cf};
    wire [AW-AI-1:0] unused_raddr = raddr[AW-1:AI];
    wire [SIMD*IB-1:0] word = lines[raddr[AI-1:0]];

    reg [SIMD*OB-1:0] conv;
    integer s;
    always @* begin
        for (s = 0; s < SIMD; s = s + 1) begin
            if (!in_map) conv[s*OB+:OB] = PAD_B;
            else if (IBIP != 0 && OB > 1) conv[s*OB+:OB] = word[s*IB] ? {{(OB - 1) {1'b0}}, 1'b1} : {OB{1'b1}};
            else if (IS != 0) conv[s*OB+:OB] = {{(OB - IB) {word[s*IB+IB-1]}}, word[s*IB+:IB]};
            else conv[s*OB+:OB] = {{(OB - IB) {1'b0}}, word[s*IB+:IB]};
        end
    end

    // the end of a row read, of a row of windows written, and of a frame
    wire row_read = rd && rc == CF_LAST && rx == RX_LAST;
    wire pixel_done = wr && cf == CF_LAST && kx == KX_LAST && ky == KY_LAST;
    wire row_done = pixel_done && ox == OX_LAST;
    wire [LW-1:0] loaded_n = loaded + {{(LW - 1) {1'b0}}, row_read};
    wire [OYW-1:0] oy_n = oy + {{(OYW - 1) {1'b0}}, row_done};
    wire frame_done = (loaded_n == ROWS) && (oy_n == OY_END);
    wire [RW:0] yrow_s = {1'b0, yrow} + STEP_R;

    always @(posedge clk) begin
        if (!rst_n) begin
            loaded <= 0; rx <= 0; rc <= 0; waddr <= 0;
            oy <= 0; ox <= 0; ky <= 0; kx <= 0; cf <= 0;
            ytop <= -PT_Y; xleft <= -PL_X; yrow <= ROW0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (rd) begin
                lines[waddr] <= s_tdata;
                waddr <= (waddr == A_LAST) ? {AI{1'b0}} : waddr + 1'b1;
                if (rc == CF_LAST) begin
                    rc <= 0;
                    rx <= (rx == RX_LAST) ? {XW{1'b0}} : rx + 1'b1;
                end else rc <= rc + 1'b1;
            end
            if (wr) begin
                m_tdata <= conv;
                m_tvalid <= 1'b1;
                m_tlast <= (oy == OY_LAST) && row_done;
                if (cf == CF_LAST) begin
                    cf <= 0;
                    if (kx == KX_LAST) begin
                        kx <= 0;
                        if (ky == KY_LAST) begin
                            ky <= 0;
                            ox <= (ox == OX_LAST) ? {OXW{1'b0}} : ox + 1'b1;
                            xleft <= (ox == OX_LAST) ? -PL_X : xleft + SW_X;
                        end else ky <= ky + 1'b1;
                    end else kx <= kx + 1'b1;
                end else cf <= cf + 1'b1;
            end
            if (row_done) begin
                ytop <= ytop + SH_Y;
                yrow <= (yrow_s >= KH_R) ? yrow_s[RW-1:0] - KH_R[RW-1:0] : yrow_s[RW-1:0];
            end
            loaded <= loaded_n;
            oy <= oy_n;
            if (frame_done) begin
                loaded <= 0; oy <= 0; waddr <= 0;
                ytop <= -PT_Y; yrow <= ROW0;
            end
        end
    end
endmodule
