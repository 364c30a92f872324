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

    reg [SIMD*IB-1:0] lines[0:DEPTH-1];
    integer loaded, rx, rc, oy, ox, ky, kx, cf;  // rows read; column/fold being read; window word
    wire unused_tlast = s_tlast;
    wire [31:0] need_rows = oy * SH + KH - PT;
    // rows the next output row needs; a frame starts with a read even when its first
    // rows are all padding, so that no output leaves before its frame's input arrives
    wire [31:0] need_out = (oy < OH && need_rows < IH) ? need_rows : IH;
    wire [31:0] need = (oy == 0 && need_out == 0) ? 1 : need_out;
    wire do_read = (loaded < need);
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = do_read;
    wire rd = do_read && s_tvalid;
    wire wr = !do_read && out_free;
    wire [31:0] iy = oy * SH + ky - PT, ix = ox * SW + kx - PL;  // wrap below 0
    wire in_map = (iy < IH) && (ix < IW);
    wire [31:0] raddr = ((iy % KH) * IW + ix) * CF + cf;
    wire [SIMD*IB-1:0] word = lines[in_map ? raddr : 0];

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

    // the state after this cycle, and the end of a frame
    reg [31:0] loaded_n, oy_n;
    always @* begin
        loaded_n = loaded + ((rd && rc == CF - 1 && rx == IW - 1) ? 1 : 0);
        oy_n = oy + ((wr && cf == CF - 1 && kx == KW - 1 && ky == KH - 1 && ox == OW - 1) ? 1 : 0);
    end
    wire frame_done = (loaded_n == IH) && (oy_n == OH);

    always @(posedge clk) begin
        if (!rst_n) begin
            loaded <= 0; rx <= 0; rc <= 0;
            oy <= 0; ox <= 0; ky <= 0; kx <= 0; cf <= 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (rd) begin
                lines[((loaded % KH) * IW + rx) * CF + rc] <= s_tdata;
                if (rc == CF - 1) begin
                    rc <= 0;
                    rx <= (rx == IW - 1) ? 0 : rx + 1;
                end else rc <= rc + 1;
            end
            if (wr) begin
                m_tdata <= conv;
                m_tvalid <= 1'b1;
                m_tlast <= (oy == OH - 1) && (ox == OW - 1) && (ky == KH - 1) && (kx == KW - 1) && (cf == CF - 1);
                if (cf == CF - 1) begin
                    cf <= 0;
                    if (kx == KW - 1) begin
                        kx <= 0;
                        if (ky == KH - 1) begin
                            ky <= 0;
                            ox <= (ox == OW - 1) ? 0 : ox + 1;
                        end else ky <= ky + 1;
                    end else kx <= kx + 1;
                end else cf <= cf + 1;
            end
            loaded <= frame_done ? 0 : loaded_n;
            oy <= frame_done ? 0 : oy_n;
        end
    end
endmodule
